// One keyset page of accounts by id, returned as a single list: decoding one record holding
// [id, created_at, attributes, label, labelled_at] lists is several times cheaper for the
// Python driver than one record per account. collect() keeps the ORDER BY order.
MATCH (a:Account)
WHERE a.id > $after
WITH a ORDER BY a.id LIMIT $limit
RETURN collect([a.id, a.created_at, a.attributes, a.label, a.labelled_at]) AS rows
