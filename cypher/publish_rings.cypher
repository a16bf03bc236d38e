UNWIND $rings AS ring
MERGE (g:SweepRing {gen: $gen, ring_id: ring.id})
SET g.sweep_id = $sweep_id, g.risk = ring.risk, g.size = ring.size,
    g.created_at = ring.created_at, g.updated_at = ring.updated_at
FOREACH (m IN ring.members |
  MERGE (:RingMember {gen: $gen, ring_id: ring.id, account_id: m}))
FOREACH (x IN ring.identifiers |
  MERGE (n:RingIdent {gen: $gen, ring_id: ring.id, type: x.type, id: x.id})
  SET n.accounts = x.accounts)
