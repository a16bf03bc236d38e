// Rows are one per account (merged in Python); the account is locked by upsert_accounts_lock
// and its identifiers exist (upsert_identifiers). created_at keeps the earliest; links keep
// the earliest first_seen and the latest last_seen. Links arrive as
// [type, id, first_seen, last_seen] lists: far cheaper for the driver to send than maps.
UNWIND $rows AS row
MATCH (a:Account {id: row.id})
SET a.created_at = CASE WHEN a.created_at IS NULL OR row.created_at < a.created_at
                        THEN row.created_at ELSE a.created_at END,
    a.attributes = row.attributes,
    // $requested_at is null unless the caller asked for online scores (pending_scores.cypher).
    a.score_requested_at = CASE WHEN $requested_at IS NULL THEN a.score_requested_at
                                WHEN a.score_requested_at > $requested_at THEN a.score_requested_at
                                ELSE $requested_at END
REMOVE a._lock
WITH a, row
UNWIND row.links AS link
WITH a, link[2] AS first_seen, link[3] AS last_seen, link[0] + '|' + link[1] AS key
MATCH (i:Identifier {key: key})
MERGE (a)-[l:LINK]->(i)
  ON CREATE SET l.first_seen = first_seen, l.last_seen = last_seen
  ON MATCH SET
    l.first_seen = CASE WHEN first_seen < l.first_seen THEN first_seen ELSE l.first_seen END,
    l.last_seen = CASE WHEN last_seen > l.last_seen THEN last_seen ELSE l.last_seen END
