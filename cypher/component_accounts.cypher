// The accounts of a shard: every account whose component is in $components (one index seek per
// value; the UNWIND ... MATCH {component: c} form plans as an index scan per row on 5.26).
MATCH (a:Account)
WHERE a.component IN $components
RETURN collect(a.id) AS ids
