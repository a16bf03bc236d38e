CREATE CONSTRAINT sweep_risk_key IF NOT EXISTS FOR (r:SweepRisk) REQUIRE (r.gen, r.account_id) IS UNIQUE
