// Keeps the $keep latest sweeps; the rows of the others become garbage, deleted later.
MATCH (s:Sweep)
WITH s ORDER BY s.finished_at DESC, s.sweep_id DESC
SKIP $keep
MERGE (p:Publication {gen: s.gen})
SET p.sweep_id = s.sweep_id, p.garbage = true
DELETE s
RETURN count(*) AS pruned
