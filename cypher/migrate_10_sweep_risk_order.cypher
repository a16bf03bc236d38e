CREATE INDEX sweep_risk_order IF NOT EXISTS FOR (r:SweepRisk) ON (r.gen, r.risk)
