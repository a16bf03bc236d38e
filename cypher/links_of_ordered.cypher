// The first $limit links of the given accounts by (account id, type, id), as one list of
// [account_id, type, id, first_seen] (graph/neighbourhood.py's `expand_bounded`).
UNWIND $ids AS id
MATCH (:Account {id: id})-[l]->(i:Identifier)
WITH id, i.type AS type, i.id AS ident, l.first_seen AS first_seen
ORDER BY id, type, ident
LIMIT $limit
RETURN collect([id, type, ident, first_seen]) AS rows
