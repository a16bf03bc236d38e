// In-place upgrade to the typed model, step 3 (write): the attribute properties of one page of
// accounts, in the transaction that read and locked them.
UNWIND $rows AS row
MATCH (a:Account {id: row.id})
SET a += row.props
REMOVE a._lock
