// The given accounts as one list of [id, created_at, attributes, label, labelled_at].
UNWIND $ids AS id
MATCH (a:Account {id: id})
RETURN collect([a.id, a.created_at, a.attributes, a.label, a.labelled_at]) AS rows
