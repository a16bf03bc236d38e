MERGE (s:Sweep {sweep_id: $sweep_id})
WITH s, s.gen AS old_gen
SET s.gen = $gen, s.started_at = $started_at, s.finished_at = $finished_at,
    s.model_version = $model_version, s.stats = $stats
RETURN old_gen
