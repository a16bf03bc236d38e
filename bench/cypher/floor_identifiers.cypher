// bench/ingest.py's floor, step 1: a batch's new identifiers, created without a check.
UNWIND $identifiers AS ident
CREATE (:Identifier {key: ident[0], type: ident[1], id: ident[2]})
