// Per identifier: its full degree, and its $cap earliest-linked accounts (ties by id).
UNWIND $keys AS key
MATCH (i:Identifier {key: key})
CALL (i) {
  MATCH (a:Account)-[l]->(i)
  WITH a.id AS account_id, l.first_seen AS first_seen
  ORDER BY first_seen, account_id
  LIMIT $cap
  RETURN collect([account_id, first_seen]) AS firsts
}
RETURN key, COUNT { (i)<--() } AS degree, firsts
