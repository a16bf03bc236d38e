// Every link of the given accounts, as one list of [account_id, type, id, first_seen].
UNWIND $ids AS id
MATCH (:Account {id: id})-[l]->(i:Identifier)
RETURN collect([id, i.type, i.id, l.first_seen]) AS rows
