// After a bulk import: attribute properties ({id, props}) that the import's typed CSV columns
// could not hold (graph/neo4j_bulk.py).
UNWIND $rows AS row
MATCH (a:Account {id: row.id})
SET a += row.props
