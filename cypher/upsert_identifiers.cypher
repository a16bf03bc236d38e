// The batch's distinct identifiers as [type, id], sorted by key: creating them in one global
// order keeps concurrent batches that share new identifiers from deadlocking on their
// index entries. The key is type + '|' + id (types are fixed words without '|').
UNWIND $identifiers AS ident
MERGE (i:Identifier {key: ident[0] + '|' + ident[1]})
  ON CREATE SET i.type = ident[0], i.id = ident[1]
