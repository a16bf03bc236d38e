// One keyset page of [account id, component, links] in id order (component -1: GDS did not
// reach it); COUNT { (a)-->() } reads the degree store, so no link crosses Bolt.
MATCH (a:Account)
WHERE a.id > $after
WITH a ORDER BY a.id LIMIT $limit
RETURN collect([a.id, coalesce(a.component, -1), COUNT { (a)-->() }]) AS rows
