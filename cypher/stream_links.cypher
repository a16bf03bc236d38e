// Keyset page over (account id, type, id). At most $limit + 1 accounts with links can hold
// the next $limit links (the first may be partly consumed), so the work per page is bounded.
// Returned as one list of [account_id, type, id, first_seen] (cheap for the Python driver to
// decode); collect() keeps the ORDER BY order.
MATCH (a:Account)
WHERE a.id >= $account_id AND EXISTS { (a)-->(:Identifier) }
WITH a ORDER BY a.id LIMIT $limit + 1
MATCH (a)-[l]->(i:Identifier)
WITH a.id AS account_id, i.type AS type, i.id AS id, l.first_seen AS first_seen
WHERE account_id > $account_id OR type > $type OR (type = $type AND id > $id)
WITH account_id, type, id, first_seen
ORDER BY account_id, type, id
LIMIT $limit
RETURN collect([account_id, type, id, first_seen]) AS rows
