// Diagnostics (tests): every node but Meta markers, as [labels, properties], and every
// relationship as [start labels, start key or id, type, properties, end labels, end key or id].
CALL () {
  MATCH (n)
  WHERE NOT n:Meta
  RETURN collect([labels(n), properties(n)]) AS nodes
}
CALL () {
  MATCH (s)-[r]->(e)
  RETURN collect([labels(s), coalesce(s.key, s.id), type(r), properties(r), labels(e), coalesce(e.key, e.id)])
           AS relationships
}
RETURN nodes, relationships
