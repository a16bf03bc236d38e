MERGE (p:Publication {gen: $gen})
SET p.sweep_id = $sweep_id, p.garbage = true
