UNWIND $rows AS row
MERGE (r:SweepRisk {gen: $gen, account_id: row.account_id})
SET r.risk = row.risk, r.ring_id = row.ring_id
