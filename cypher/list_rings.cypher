// Keyset page: riskiest first, ties by id, after ($upper, $after_id). The bounds are
// sargable, and ordering on g.gen (equality-bound), g.risk before any aliasing lets the
// (gen, risk) index provide the order. The case filters: $case_status ('none': no case), $assignee.
MATCH (g:SweepRing)
WHERE g.gen = $gen AND g.risk >= $min_risk AND g.risk <= $upper
  AND ($after_id IS NULL OR g.risk < $upper OR g.ring_id > $after_id)
OPTIONAL MATCH (c:Case {ring_id: g.ring_id})
WITH g, c
WHERE ($case_status IS NULL OR ($case_status = 'none' AND c IS NULL) OR c.status = $case_status)
  AND ($assignee IS NULL OR c.assignee = $assignee)
WITH g, c ORDER BY g.gen DESC, g.risk DESC, g.ring_id
LIMIT $limit
RETURN g.ring_id AS id, g.risk AS risk, g.size AS size, g.created_at AS created_at,
       g.updated_at AS updated_at, g.sweep_id AS sweep_id, c.status AS case_status, c.assignee AS assignee
