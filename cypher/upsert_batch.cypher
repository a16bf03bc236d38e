// A batch's first statement. Write-locks every account of the batch, creating missing ones
// (SET takes the lock, so attributes read after it are the latest commit and concurrent
// batches touching the same account serialise instead of losing an update); merges the
// batch's identifiers; writes the accounts that did not exist, with their links. Returns the
// accounts that existed, with their attributes, for upsert_accounts.cypher.
// $rows: one per account, sorted by id (a fixed lock order), links as [identifier key,
// first_seen, last_seen] lists (far cheaper for the driver to send than maps), attributes as
// JSON of the batch's own values. $identifiers: [key, type, id], sorted by key: creating them
// in one global order keeps concurrent batches sharing new identifiers from deadlocking on
// their index entries. The key (type + '|' + id, types are fixed words without '|') is built
// by the caller, so every MERGE is a seek on a unique key.
UNWIND $rows AS row
MERGE (a:Account {id: row.id})
SET a._lock = true
// Every upsert sets created_at in the transaction that creates the account: without it, the
// account was created just now, has no LINK yet, and CREATE can replace MERGE for its links.
WITH collect({a: a, row: row, new: a.created_at IS NULL, attributes: a.attributes}) AS locked
CALL () {
  UNWIND $identifiers AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i.type = ident[1], i.id = ident[2]
}
CALL (locked) {
  UNWIND locked AS x
  WITH x
  WHERE x.new
  WITH x.a AS a, x.row AS row
  // $requested_at is null unless the caller asked for online scores (pending_scores.cypher).
  SET a.created_at = row.created_at, a.attributes = row.attributes, a.score_requested_at = $requested_at
  REMOVE a._lock
  WITH a, row
  UNWIND row.links AS link
  MATCH (i:Identifier {key: link[0]})
  CREATE (a)-[:LINK {first_seen: link[1], last_seen: link[2]}]->(i)
}
UNWIND locked AS x
WITH x
WHERE NOT x.new
RETURN x.row.id AS id, x.attributes AS attributes
