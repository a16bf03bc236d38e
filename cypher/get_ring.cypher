OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
MATCH (g:SweepRing {gen: sw.gen, ring_id: $ring_id})
OPTIONAL MATCH (c:Case {ring_id: $ring_id})
RETURN g.ring_id AS id, g.risk AS risk, g.size AS size, g.created_at AS created_at,
       g.updated_at AS updated_at, g.sweep_id AS sweep_id, c.status AS case_status, c.assignee AS assignee,
       COLLECT {
         MATCH (x:RingMember)
         WHERE x.gen = sw.gen AND x.ring_id = $ring_id AND x.account_id IS NOT NULL
         OPTIONAL MATCH (r:SweepRisk {gen: sw.gen, account_id: x.account_id})
         OPTIONAL MATCH (a:Account {id: x.account_id})
         WITH x, r, a ORDER BY r.risk IS NULL, r.risk DESC, x.account_id
         RETURN [x.account_id, r.risk, a.label]
       } AS members,
       COLLECT {
         MATCH (n:RingIdent)
         WHERE n.gen = sw.gen AND n.ring_id = $ring_id AND n.type IS NOT NULL AND n.id IS NOT NULL
         WITH n ORDER BY n.accounts DESC, n.type, n.id
         RETURN [n.type, n.id, n.accounts]
       } AS identifiers,
       COLLECT {
         MATCH (h:RingHistory {ring_id: $ring_id})
         WITH h ORDER BY h.at, h.sweep_id
         RETURN [h.sweep_id, h.at, h.event, h.size]
       } AS history
