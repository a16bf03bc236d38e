MERGE (m:Meta {key: 'graph_model'})
SET m.value = $value
