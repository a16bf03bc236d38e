CREATE CONSTRAINT sweep_ring_key IF NOT EXISTS FOR (g:SweepRing) REQUIRE (g.gen, g.ring_id) IS UNIQUE
