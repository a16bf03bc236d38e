// The :Ring view (graph/neo4j_typed.py) is rebuilt from the current sweep after each
// publication: first every :Ring node and its MEMBER_OF relationships go, 1,000 rings per
// transaction. Auto-commit only (CALL IN TRANSACTIONS).
MATCH (r:Ring)
CALL (r) {
  DETACH DELETE r
} IN TRANSACTIONS OF 1000 ROWS
