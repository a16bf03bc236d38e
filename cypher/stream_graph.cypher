// One keyset page of accounts by id, each with its links, as a single list of
// [id, created_at, attributes, label, labelled_at, [[type, id, first_seen], ...]]: a whole-graph
// load reads accounts and links in one index-ordered pass, without sorting or discarding links.
MATCH (a:Account)
WHERE a.id > $after
WITH a ORDER BY a.id LIMIT $limit
RETURN collect([a.id, a.created_at, a.attributes, a.label, a.labelled_at,
                [(a)-[l]->(i:Identifier) | [i.type, i.id, l.first_seen]]]) AS rows
