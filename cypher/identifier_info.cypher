// One identifier: degree, benign flag, first and last link, the current sweep's rings it ties.
MATCH (i:Identifier {key: $key})
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
CALL (i) {
  MATCH (:Account)-[l]->(i)
  RETURN count(l) AS accounts, min(l.first_seen) AS first_seen, max(l.last_seen) AS last_seen
}
RETURN accounts, first_seen, last_seen,
       EXISTS { MATCH (:Benign {key: $key}) } AS benign,
       COLLECT {
         MATCH (n:RingIdent)
         WHERE n.gen = sw.gen AND n.type = $type AND n.id = $id
         WITH DISTINCT n.ring_id AS ring_id ORDER BY ring_id
         RETURN ring_id
       } AS ring_ids
