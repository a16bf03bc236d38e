// (:Account)-[:MEMBER_OF]->(:Ring) for the members of the current sweep's rings, 5,000 per
// transaction. Auto-commit only.
MATCH (m:Meta {key: 'current_sweep'})
MATCH (sw:Sweep {sweep_id: m.value})
MATCH (x:RingMember {gen: sw.gen})
CALL (x) {
  MATCH (a:Account {id: x.account_id})
  MATCH (r:Ring {id: x.ring_id})
  MERGE (a)-[:MEMBER_OF]->(r)
} IN TRANSACTIONS OF 5000 ROWS
