// The sweep $sweep_id names (null: the current one) and its published generation.
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
WITH coalesce($sweep_id, m.value) AS sid
OPTIONAL MATCH (s:Sweep {sweep_id: sid})
RETURN sid, s.gen AS gen, s.started_at AS started_at, s.finished_at AS finished_at,
       s.model_version AS model_version, s.stats AS stats
