// The current label is the latest event; a later-dated event already stored wins.
UNWIND $rows AS row
MATCH (a:Account {id: row.account_id})
SET a._lock = true
WITH a, row
SET a.label = CASE WHEN a.labelled_at IS NULL OR a.labelled_at <= row.at THEN row.label ELSE a.label END,
    a.labelled_at = CASE WHEN a.labelled_at IS NULL OR a.labelled_at <= row.at THEN row.at ELSE a.labelled_at END
REMOVE a._lock
