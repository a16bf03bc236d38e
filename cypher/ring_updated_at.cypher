UNWIND $ids AS id
MATCH (g:SweepRing {gen: $gen, ring_id: id})
RETURN id, g.updated_at AS updated_at
