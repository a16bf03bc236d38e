UNWIND $ids AS id
MATCH (a:Account {id: id})
RETURN a.id AS id, a.created_at AS created_at, a.attributes AS attributes, a.label AS label,
       a.labelled_at AS labelled_at
