MERGE (b:Benign {key: $key})
  ON CREATE SET b.type = $type, b.id = $id
