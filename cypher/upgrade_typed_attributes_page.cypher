// In-place upgrade to the typed model, step 3 (read): a keyset page of accounts with their
// attribute JSON, write-locked (as upsert_batch.cypher locks them) so that no upsert changes
// them before upgrade_typed_attributes_write.cypher, in the same transaction, sets the
// properties Python made of them (graph/neo4j_typed.py).
MATCH (a:Account)
WHERE a.id > $after
WITH a ORDER BY a.id LIMIT $limit
SET a._lock = true
RETURN a.id AS id, a.attributes AS attributes
