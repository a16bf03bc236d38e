MATCH (s:ShardResult {sweep_id: $sweep_id})
RETURN s.shard AS shard, s.status AS status
