// In-place upgrade to the typed model, step 1: each :Identifier gets the label of its type
// (graph/neo4j_typed.py), 5,000 per transaction. Idempotent: labelled nodes are skipped.
// Auto-commit only (CALL IN TRANSACTIONS).
MATCH (i:Identifier)
WHERE (i.type = 'bank_account' AND NOT i:BankAccount) OR (i.type = 'card' AND NOT i:Card)
   OR (i.type = 'device' AND NOT i:Device)
CALL (i) {
  FOREACH (_ IN CASE WHEN i.type = 'bank_account' THEN [1] ELSE [] END | SET i:BankAccount)
  FOREACH (_ IN CASE WHEN i.type = 'card' THEN [1] ELSE [] END | SET i:Card)
  FOREACH (_ IN CASE WHEN i.type = 'device' THEN [1] ELSE [] END | SET i:Device)
} IN TRANSACTIONS OF 5000 ROWS
