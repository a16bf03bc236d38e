MATCH (s:ShardResult {sweep_id: $sweep_id})
DELETE s
