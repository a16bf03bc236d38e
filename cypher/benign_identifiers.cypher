MATCH (b:Benign) RETURN b.type AS type, b.id AS id
