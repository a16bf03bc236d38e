// Which graph model the database holds: 'typed-1' once upgrade_typed_* ran to the end.
OPTIONAL MATCH (m:Meta {key: 'graph_model'})
RETURN m.value AS value
