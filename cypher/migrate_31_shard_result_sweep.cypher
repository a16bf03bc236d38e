CREATE INDEX shard_result_sweep IF NOT EXISTS FOR (s:ShardResult) ON (s.sweep_id)
