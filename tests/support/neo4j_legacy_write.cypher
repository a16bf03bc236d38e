// The Neo4j model before issue #17, as upsert_batch.cypher wrote new accounts then: untyped
// (:Account)-[:LINK]->(:Identifier {key, type, id}), attributes as JSON only. Test data for the
// in-place upgrade (tests/contract/test_neo4j_typed.py), run through the driver by that test.
// $rows: {id, created_at, attributes (JSON), links: [[key, type, id, first_seen, last_seen]]}.
UNWIND $rows AS row
CREATE (a:Account {id: row.id, created_at: row.created_at, attributes: row.attributes})
WITH a, row
UNWIND row.links AS link
MERGE (i:Identifier {key: link[0]})
  ON CREATE SET i.type = link[1], i.id = link[2]
CREATE (a)-[:LINK {first_seen: link[3], last_seen: link[4]}]->(i)
