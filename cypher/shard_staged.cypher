// One staged shard by its unique key (a seek): the finishing step reads shards one at a time.
MATCH (s:ShardResult {key: $key})
RETURN s.status AS status, s.payload AS payload
