// Keyset page, first part: the rest of the tie at $upper, ids after $after_id, in id order. The
// (gen, risk, ring_id) index seeks to the first of them and gives their order, so a page inside
// a long tie (a heuristic sweep gives thousands of rings one risk) reads its own rows, not the
// tie before it. `list_rings` reads the lower risks when this part does not fill the page.
MATCH (g:SweepRing)
USING INDEX g:SweepRing(gen, risk, ring_id)
WHERE g.gen = $gen AND g.risk = $upper AND g.ring_id > $after_id AND g.risk >= $min_risk
OPTIONAL MATCH (c:Case {ring_id: g.ring_id})
WITH g, c
WHERE ($case_status IS NULL OR ($case_status = 'none' AND c IS NULL) OR c.status = $case_status)
  AND ($assignee IS NULL OR c.assignee = $assignee)
WITH g, c ORDER BY g.gen, g.risk, g.ring_id
LIMIT $limit
RETURN g.ring_id AS id, g.risk AS risk, g.size AS size, g.created_at AS created_at,
       g.updated_at AS updated_at, g.sweep_id AS sweep_id, c.status AS case_status, c.assignee AS assignee
