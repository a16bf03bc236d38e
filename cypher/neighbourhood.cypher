// The 1-hop neighbourhood of the seeds in one statement (graph/neighbourhood.py's `expand`
// with hops=1, for one round trip instead of five): the seeds' own links, every identifier
// they touch with its full degree, whether it is benign, and its $cap earliest-linked accounts
// (ties by id), the rows of all those accounts, and the current-sweep ring of each of them
// that is in one (for a scorer: no rings_of round trip). Unknown seeds are skipped.
UNWIND $ids AS id
MATCH (s:Account {id: id})
WITH collect(DISTINCT s) AS seeds
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH seeds, sw.gen AS gen
CALL (seeds) {
  UNWIND seeds AS s
  MATCH (s)-[l]->(i:Identifier)
  RETURN collect([s.id, i.type, i.id, l.first_seen]) AS own, collect(DISTINCT i) AS idents
}
CALL (idents) {
  UNWIND idents AS i
  CALL (i) {
    MATCH (b:Account)-[l]->(i)
    WITH b, l
    ORDER BY l.first_seen, b.id
    LIMIT $cap
    RETURN collect([b.id, l.first_seen]) AS firsts, collect(b) AS shared
  }
  RETURN collect([i.type, i.id, COUNT { (i)<--() }, EXISTS { MATCH (:Benign {key: i.key}) }, firsts])
           AS identifiers,
         collect(shared) AS shared
}
WITH gen, own, identifiers,
     COLLECT { UNWIND reduce(acc = seeds, x IN shared | acc + x) AS a RETURN DISTINCT a } AS accounts
RETURN own, identifiers,
       [a IN accounts | [a.id, a.created_at, a.attributes, a.label, a.labelled_at]] AS rows,
       COLLECT {
         UNWIND accounts AS a
         MATCH (x:RingMember {gen: gen, account_id: a.id})
         RETURN [a.id, x.ring_id]
       } AS rings
