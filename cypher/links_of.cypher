UNWIND $ids AS id
MATCH (:Account {id: id})-[l:LINK]->(i:Identifier)
RETURN id AS account_id, i.type AS type, i.id AS id, l.first_seen AS first_seen
