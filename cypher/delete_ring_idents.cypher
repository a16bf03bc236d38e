// Deletes up to $limit rows of one generation; called until it deletes none. The IS NOT NULL
// terms let the composite unique index serve a seek on its gen prefix.
MATCH (n:RingIdent)
WHERE n.gen = $gen AND n.ring_id IS NOT NULL AND n.type IS NOT NULL AND n.id IS NOT NULL
WITH n LIMIT $limit
DELETE n
RETURN count(*) AS deleted
