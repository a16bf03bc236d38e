UNWIND $rows AS row
MATCH (s:Score {account_id: row.account_id})
FOREACH (_ IN CASE WHEN row.write THEN [1] ELSE [] END |
  SET s.risk = row.risk, s.model_version = row.model_version, s.scored_at = row.scored_at,
      s.as_of = row.as_of, s.reasons = row.reasons, s.ring_id = row.ring_id)
REMOVE s._lock
