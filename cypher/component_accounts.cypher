// The accounts of a shard: every account whose component is in $components (index seeks).
UNWIND $components AS c
MATCH (a:Account {component: c})
RETURN collect(a.id) AS ids
