// Accounts with a sweep risk in ($above, $below), riskiest first, ties by id, after the
// keyset ($upper, $after_id). The range bounds are sargable on the (gen, risk) index, and
// ordering on r.gen (equality-bound), r.risk before any aliasing lets that index provide the
// order: a page reads about $limit rows, not the whole range.
MATCH (r:SweepRisk)
WHERE r.gen = $gen AND r.risk > $above AND r.risk < $below AND r.risk >= $min_risk AND r.risk <= $upper
  AND ($after_id IS NULL OR r.risk < $upper OR r.account_id > $after_id)
MATCH (a:Account {id: r.account_id})
WHERE $label IS NULL OR a.label = $label
WITH a, r ORDER BY r.gen DESC, r.risk DESC, r.account_id
LIMIT $limit
RETURN a.id AS id, r.risk AS risk
