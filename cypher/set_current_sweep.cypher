MERGE (m:Meta {key: 'current_sweep'})
SET m.value = $sweep_id
