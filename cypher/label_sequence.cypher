// Reserves $n sequence numbers (insertion order of label events, the history's tie-break).
// The write lock on this one node also serialises concurrent label batches.
MERGE (m:Meta {key: 'label_seq'})
SET m._lock = true
WITH m
SET m.value = coalesce(m.value, 0) + $n
REMOVE m._lock
RETURN m.value - $n AS base
