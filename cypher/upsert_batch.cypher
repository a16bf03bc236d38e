// A batch's first statement. Write-locks every account of the batch, creating missing ones
// (SET takes the lock, so attributes read after it are the latest commit and concurrent
// batches touching the same account serialise instead of losing an update); merges the
// batch's identifiers; writes the accounts that did not exist, with their links. Returns the
// accounts that existed, with their attributes, for upsert_accounts.cypher.
// $bank_accounts, $cards, $devices: the batch's identifiers of each type as [key, id], sorted by
// key: creating them in one global order (types in this order, then key) keeps concurrent
// batches sharing new identifiers from deadlocking on their index entries. The key (type + '|' +
// id, types are fixed words without '|') is built by the caller, so every MERGE is a seek on a
// unique key, and each identifier is sought once per batch, not once per link.
// $rows: one per account, sorted by id (a fixed lock order), attributes as JSON of the batch's
// own values and `props` (graph/neo4j_typed.py) as properties, links per identifier type as
// [position in that type's list above, first_seen, last_seen] (small lists of numbers are far
// cheaper for the driver to send than maps or keys). Labels and relationship types are the
// fixed table of graph/neo4j_typed.py, spelled out: Cypher cannot take them as parameters.
UNWIND $rows AS row
MERGE (a:Account {id: row.id})
SET a._lock = true
// Every upsert sets created_at in the transaction that creates the account: without it, the
// account was created just now, has no link yet, and CREATE can replace MERGE for its links.
WITH collect({a: a, row: row, new: a.created_at IS NULL, attributes: a.attributes}) AS locked
// Each list comes back in its parameter's order, so a link's position picks its identifier's
// node: ORDER BY k says so, where Cypher promises no row order without it.
CALL () {
  UNWIND range(0, size($bank_accounts) - 1) AS k
  WITH k, $bank_accounts[k] AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i:BankAccount, i.type = 'bank_account', i.id = ident[1]
  WITH k, i ORDER BY k
  RETURN collect(i) AS bank_account_nodes
}
CALL () {
  UNWIND range(0, size($cards) - 1) AS k
  WITH k, $cards[k] AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i:Card, i.type = 'card', i.id = ident[1]
  WITH k, i ORDER BY k
  RETURN collect(i) AS card_nodes
}
CALL () {
  UNWIND range(0, size($devices) - 1) AS k
  WITH k, $devices[k] AS ident
  MERGE (i:Identifier {key: ident[0]})
    ON CREATE SET i:Device, i.type = 'device', i.id = ident[1]
  WITH k, i ORDER BY k
  RETURN collect(i) AS device_nodes
}
CALL (locked, bank_account_nodes, card_nodes, device_nodes) {
  UNWIND [x IN locked WHERE x.new] AS x
  WITH x.a AS a, x.row AS row, bank_account_nodes, card_nodes, device_nodes
  // $requested_at is null unless the caller asked for online scores (pending_scores.cypher).
  SET a.created_at = row.created_at, a.attributes = row.attributes, a.score_requested_at = $requested_at,
      a += row.props
  REMOVE a._lock
  WITH a, row, bank_account_nodes, card_nodes, device_nodes
  CALL (a, row, bank_account_nodes) {
    UNWIND row.bank_accounts AS link
    WITH a, bank_account_nodes[link[0]] AS i, link
    CREATE (a)-[:PAYS_OUT_TO {first_seen: link[1], last_seen: link[2]}]->(i)
  }
  CALL (a, row, card_nodes) {
    UNWIND row.cards AS link
    WITH a, card_nodes[link[0]] AS i, link
    CREATE (a)-[:HAS_CARD {first_seen: link[1], last_seen: link[2]}]->(i)
  }
  CALL (a, row, device_nodes) {
    UNWIND row.devices AS link
    WITH a, device_nodes[link[0]] AS i, link
    CREATE (a)-[:USES_DEVICE {first_seen: link[1], last_seen: link[2]}]->(i)
  }
}
UNWIND locked AS x
WITH x
WHERE NOT x.new
RETURN x.row.id AS id, x.attributes AS attributes
