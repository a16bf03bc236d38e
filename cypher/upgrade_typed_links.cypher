// In-place upgrade to the typed model, step 2: each old (:Account)-[:LINK]->(:Identifier)
// becomes the typed relationship of the identifier's type (graph/neo4j_typed.py) with the same
// first_seen and last_seen, and is deleted in the same transaction, 5,000 per transaction.
// Idempotent: a run cut off leaves only unconverted LINKs for the next. Auto-commit only.
MATCH (a:Account)-[l:LINK]->(i:Identifier)
CALL (a, l, i) {
  FOREACH (_ IN CASE WHEN i.type = 'bank_account' THEN [1] ELSE [] END |
    CREATE (a)-[:PAYS_OUT_TO {first_seen: l.first_seen, last_seen: l.last_seen}]->(i))
  FOREACH (_ IN CASE WHEN i.type = 'card' THEN [1] ELSE [] END |
    CREATE (a)-[:HAS_CARD {first_seen: l.first_seen, last_seen: l.last_seen}]->(i))
  FOREACH (_ IN CASE WHEN i.type = 'device' THEN [1] ELSE [] END |
    CREATE (a)-[:USES_DEVICE {first_seen: l.first_seen, last_seen: l.last_seen}]->(i))
  DELETE l
} IN TRANSACTIONS OF 5000 ROWS
