MERGE (j:Job {id: $id})
  ON CREATE SET j.kind = $kind, j.status = 'queued', j.created_at = $created_at, j.params = $params
