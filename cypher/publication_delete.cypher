MATCH (p:Publication {gen: $gen})
DELETE p
