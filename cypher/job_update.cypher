MATCH (j:Job {id: $id})
SET j._lock = true
WITH j
SET j.status = $status,
    j.started_at = CASE WHEN $status = 'running' THEN coalesce(j.started_at, $now) ELSE j.started_at END,
    j.finished_at = CASE WHEN $status IN ['succeeded', 'failed'] THEN $now ELSE j.finished_at END,
    j.result = coalesce($result, j.result),
    j.error = $error
REMOVE j._lock
