CREATE INDEX sweep_ring_order IF NOT EXISTS FOR (g:SweepRing) ON (g.gen, g.risk)
