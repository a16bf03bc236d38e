// The streamed partition's components (a server without GDS): [account id, component] rows.
UNWIND $rows AS r
MATCH (a:Account {id: r[0]})
SET a.component = r[1]
