MATCH (s:Score {account_id: $account_id})
WHERE s.as_of IS NOT NULL
RETURN s.account_id AS account_id, s.risk AS risk, s.model_version AS model_version,
       s.scored_at AS scored_at, s.as_of AS as_of, s.reasons AS reasons, s.ring_id AS ring_id
