MATCH (x:LabelEvent {account_id: $account_id})
RETURN x.account_id AS account_id, x.label AS label, x.source AS source, x.note AS note, x.at AS at
ORDER BY x.at, x.seq
