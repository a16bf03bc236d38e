CREATE INDEX sweep_ring_tie IF NOT EXISTS FOR (g:SweepRing) ON (g.gen, g.risk, g.ring_id)
