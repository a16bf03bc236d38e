// The accounts linked to one identifier, earliest first_seen first (ties by id), after a cursor.
MATCH (a:Account)-[l]->(:Identifier {key: $key})
WHERE $after_f IS NULL OR l.first_seen > $after_f OR (l.first_seen = $after_f AND a.id > $after_i)
RETURN a.id AS account_id, l.first_seen AS first_seen
ORDER BY first_seen, account_id
LIMIT $limit
