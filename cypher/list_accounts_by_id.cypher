// Accounts by id after $after_id; with $unscored_only, only those whose sort risk is -1
// (no sweep risk, or exactly -1): the tail of the risk order.
MATCH (a:Account)
WHERE a.id >= $from_id AND ($after_id IS NULL OR a.id > $after_id)
  AND ($label IS NULL OR a.label = $label)
OPTIONAL MATCH (r:SweepRisk {gen: $gen, account_id: a.id})
WITH a, r
WHERE ($min_risk IS NULL OR r.risk >= $min_risk)
  AND (NOT $unscored_only OR coalesce(r.risk, -1.0) = -1.0)
RETURN a.id AS id, r.risk AS risk
ORDER BY a.id
LIMIT $limit
