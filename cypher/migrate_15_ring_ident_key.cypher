CREATE CONSTRAINT ring_ident_key IF NOT EXISTS FOR (x:RingIdent) REQUIRE (x.gen, x.ring_id, x.type, x.id) IS UNIQUE
