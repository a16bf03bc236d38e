OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
UNWIND $ids AS id
MATCH (x:RingMember {gen: sw.gen, account_id: id})
RETURN id, x.ring_id AS ring_id
