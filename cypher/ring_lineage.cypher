// Creation time and members of the given rings of the current sweep (lineage, a few rings at a time).
// The hint: without it the planner seeks RingMember by (gen, account_id), every member of the sweep per ring.
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
UNWIND $ids AS id
MATCH (g:SweepRing {gen: sw.gen, ring_id: id})
RETURN id, g.created_at AS created_at, COLLECT {
  MATCH (x:RingMember)
  USING INDEX x:RingMember(gen, ring_id, account_id)
  WHERE x.gen = sw.gen AND x.ring_id = id AND x.account_id IS NOT NULL
  RETURN x.account_id ORDER BY x.account_id
} AS members
