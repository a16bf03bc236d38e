CREATE INDEX account_score_requested IF NOT EXISTS FOR (a:Account) ON (a.score_requested_at)
