MATCH (a:Account)
WHERE a.id > $after
RETURN a.id AS id, a.created_at AS created_at, a.attributes AS attributes, a.label AS label,
       a.labelled_at AS labelled_at
ORDER BY a.id
LIMIT $limit
