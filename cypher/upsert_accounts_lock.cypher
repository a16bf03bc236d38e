// Creates missing accounts and write-locks every account of the batch before its
// attributes are read: SET takes the lock, so the read below sees the latest commit and
// concurrent batches touching the same account serialise instead of losing an update.
// An account without created_at was created just now (every upsert sets it in the same
// transaction): its links can be created without MERGE (create_accounts).
UNWIND $ids AS id
MERGE (a:Account {id: id})
SET a._lock = true
RETURN id, a.attributes AS attributes, a.created_at IS NULL AS new
