OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
MATCH (x:RingMember)
WHERE x.gen = sw.gen AND x.ring_id IS NOT NULL AND x.account_id IS NOT NULL
RETURN x.ring_id AS ring_id, x.account_id AS account_id
ORDER BY x.gen, ring_id, account_id
