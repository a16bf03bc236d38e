// A batch's first statement. Write-locks every account of the batch, creating missing ones
// (SET takes the lock, so attributes read after it are the latest commit and concurrent
// batches touching the same account serialise instead of losing an update); merges the
// batch's identifiers; writes the accounts that did not exist, with their links. Returns the
// accounts that existed, with their attributes, for upsert_accounts.cypher.
// $rows: one per account, sorted by id (a fixed lock order), links per identifier type as
// [identifier key, first_seen, last_seen] lists (far cheaper for the driver to send than maps),
// attributes as JSON of the batch's own values and `props` (graph/neo4j_typed.py) as
// properties. $bank_accounts, $cards, $devices: the batch's identifiers of each type as
// [key, id], sorted by key: creating them in one global order (types in this order, then key)
// keeps concurrent batches sharing new identifiers from deadlocking on their index entries. The
// key (type + '|' + id, types are fixed words without '|') is built by the caller, so every
// MERGE is a seek on a unique key. Labels and relationship types are the fixed table of
// graph/neo4j_typed.py, spelled out: Cypher cannot take them as parameters.
UNWIND $rows AS row
MERGE (a:Account {id: row.id})
SET a._lock = true
// Every upsert sets created_at in the transaction that creates the account: without it, the
// account was created just now, has no link yet, and CREATE can replace MERGE for its links.
WITH collect({a: a, row: row, new: a.created_at IS NULL, attributes: a.attributes}) AS locked
CALL () {
  UNWIND $bank_accounts AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i:BankAccount, i.type = 'bank_account', i.id = ident[1]
}
CALL () {
  UNWIND $cards AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i:Card, i.type = 'card', i.id = ident[1]
}
CALL () {
  UNWIND $devices AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i:Device, i.type = 'device', i.id = ident[1]
}
CALL (locked) {
  UNWIND locked AS x
  WITH x
  WHERE x.new
  WITH x.a AS a, x.row AS row
  // $requested_at is null unless the caller asked for online scores (pending_scores.cypher).
  SET a.created_at = row.created_at, a.attributes = row.attributes, a.score_requested_at = $requested_at,
      a += row.props
  REMOVE a._lock
  WITH a, row
  CALL (a, row) {
    UNWIND row.bank_accounts AS link
    MATCH (i:Identifier {key: link[0]})
    CREATE (a)-[:PAYS_OUT_TO {first_seen: link[1], last_seen: link[2]}]->(i)
  }
  CALL (a, row) {
    UNWIND row.cards AS link
    MATCH (i:Identifier {key: link[0]})
    CREATE (a)-[:HAS_CARD {first_seen: link[1], last_seen: link[2]}]->(i)
  }
  CALL (a, row) {
    UNWIND row.devices AS link
    MATCH (i:Identifier {key: link[0]})
    CREATE (a)-[:USES_DEVICE {first_seen: link[1], last_seen: link[2]}]->(i)
  }
}
UNWIND locked AS x
WITH x
WHERE NOT x.new
RETURN x.row.id AS id, x.attributes AS attributes
