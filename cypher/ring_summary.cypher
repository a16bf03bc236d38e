// A current ring's summary only (get_ring.cypher without members, identifiers and history).
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
MATCH (g:SweepRing {gen: sw.gen, ring_id: $ring_id})
OPTIONAL MATCH (c:Case {ring_id: $ring_id})
RETURN g.ring_id AS id, g.risk AS risk, g.size AS size, g.created_at AS created_at,
       g.updated_at AS updated_at, g.sweep_id AS sweep_id, c.status AS case_status, c.assignee AS assignee
