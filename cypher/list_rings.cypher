// Keyset page: riskiest first, ties by id, after ($upper, $after_id); bounds are sargable, and
// the leading (equality-bound) gen lets the (gen, risk) index provide the order.
MATCH (g:SweepRing {gen: $gen})
WHERE g.risk >= $min_risk AND g.risk <= $upper
  AND ($after_id IS NULL OR g.risk < $upper OR g.ring_id > $after_id)
RETURN g.ring_id AS id, g.risk AS risk, g.size AS size, g.created_at AS created_at,
       g.updated_at AS updated_at, g.sweep_id AS sweep_id
ORDER BY g.gen DESC, g.risk DESC, g.ring_id
LIMIT $limit
