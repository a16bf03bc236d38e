// One keyset page of [account id, component] in id order (component -1: GDS did not reach it).
MATCH (a:Account)
WHERE a.id > $after
WITH a ORDER BY a.id LIMIT $limit
RETURN collect([a.id, coalesce(a.component, -1)]) AS rows
