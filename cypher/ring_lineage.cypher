// Creation time and members of the given rings of the current sweep (lineage, a few rings at a time).
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
UNWIND $ids AS id
MATCH (g:SweepRing {gen: sw.gen, ring_id: id})
MATCH (x:RingMember {gen: sw.gen, ring_id: id})
WHERE x.account_id IS NOT NULL
WITH id, g.created_at AS created_at, x.account_id AS account_id
ORDER BY id, account_id
RETURN id, created_at, collect(account_id) AS members
