// Stages one shard's result; a repeated shard task replaces its own row (MERGE on the key).
MERGE (s:ShardResult {key: $key})
SET s.sweep_id = $sweep_id, s.shard = $shard, s.status = $status, s.payload = $payload
