// One :Ring node per ring of the current sweep, 5,000 per transaction. Auto-commit only.
MATCH (m:Meta {key: 'current_sweep'})
MATCH (sw:Sweep {sweep_id: m.value})
MATCH (g:SweepRing {gen: sw.gen})
CALL (g) {
  MERGE (r:Ring {id: g.ring_id})
  SET r.risk = g.risk, r.size = g.size, r.sweep_id = g.sweep_id, r.created_at = g.created_at,
      r.updated_at = g.updated_at
} IN TRANSACTIONS OF 5000 ROWS
