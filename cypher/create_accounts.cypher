// Accounts created by upsert_accounts_lock in this transaction, one row per account with
// its distinct links as [identifier key, first_seen, last_seen]: they have no LINK yet, so
// CREATE replaces MERGE's existence check (the bulk of a first load).
UNWIND $rows AS row
MATCH (a:Account {id: row.id})
// $requested_at is null unless the caller asked for online scores (pending_scores.cypher).
SET a.created_at = row.created_at, a.attributes = row.attributes, a.score_requested_at = $requested_at
REMOVE a._lock
WITH a, row
UNWIND row.links AS link
MATCH (i:Identifier {key: link[0]})
CREATE (a)-[:LINK {first_seen: link[1], last_seen: link[2]}]->(i)
