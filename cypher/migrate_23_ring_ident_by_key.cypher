CREATE INDEX ring_ident_by_key IF NOT EXISTS FOR (x:RingIdent) ON (x.gen, x.type, x.id)
