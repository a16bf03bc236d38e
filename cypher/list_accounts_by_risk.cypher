// Accounts with a sweep risk in ($above, $below), riskiest first, ties by id, after the
// keyset ($upper, $after_id). Range bounds are sargable on the (gen, risk) index, and ordering
// by the equality-bound gen first lets the planner take the order from that index (PartialTop).
MATCH (r:SweepRisk {gen: $gen})
WHERE r.risk > $above AND r.risk < $below AND r.risk >= $min_risk AND r.risk <= $upper
  AND ($after_id IS NULL OR r.risk < $upper OR r.account_id > $after_id)
MATCH (a:Account {id: r.account_id})
WHERE $label IS NULL OR a.label = $label
RETURN a.id AS id, r.risk AS risk
ORDER BY r.gen DESC, r.risk DESC, r.account_id
LIMIT $limit
