// bench/ingest.py's floor, step 2: a batch's accounts and links into an empty database, created
// without a check or a merge rule: the least any loader of these rows through Cypher must do.
UNWIND $rows AS row
CREATE (a:Account {id: row.id, created_at: row.created_at, attributes: row.attributes})
WITH a, row
UNWIND row.links AS link
MATCH (i:Identifier {key: link[0]})
CREATE (a)-[:LINK {first_seen: link[1], last_seen: link[2]}]->(i)
