// The batch's distinct identifiers as [key, type, id], sorted by key: creating them in one
// global order keeps concurrent batches that share new identifiers from deadlocking on their
// index entries. The key (type + '|' + id, types are fixed words without '|') is built by
// the caller, so the MERGE is a plain seek on the unique key.
UNWIND $identifiers AS ident
MERGE (i:Identifier {key: ident[0]})
  ON CREATE SET i.type = ident[1], i.id = ident[2]
