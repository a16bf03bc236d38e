// Generations whose rows are unreachable and must be deleted: superseded or pruned ones
// (garbage), and the partial rows of an earlier, failed publication of $sweep_id.
MATCH (p:Publication)
WHERE p.garbage OR p.sweep_id = $sweep_id
RETURN p.gen AS gen
