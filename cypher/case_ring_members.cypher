// The members of the current sweep's ring $ring_id, taking the case's write lock first (a case
// moves one at a time); no rows if the ring is not current.
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
MATCH (g:SweepRing {gen: sw.gen, ring_id: $ring_id})
OPTIONAL MATCH (c:Case {ring_id: $ring_id})
FOREACH (x IN CASE WHEN c IS NULL THEN [] ELSE [c] END | SET x._lock = true REMOVE x._lock)
WITH sw
MATCH (x:RingMember)
WHERE x.gen = sw.gen AND x.ring_id = $ring_id AND x.account_id IS NOT NULL
RETURN x.account_id AS account_id
ORDER BY account_id
