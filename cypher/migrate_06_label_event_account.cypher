CREATE INDEX label_event_account IF NOT EXISTS FOR (e:LabelEvent) ON (e.account_id)
