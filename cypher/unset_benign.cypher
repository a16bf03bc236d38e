MATCH (b:Benign {key: $key})
DELETE b
