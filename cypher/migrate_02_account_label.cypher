CREATE INDEX account_label IF NOT EXISTS FOR (a:Account) ON (a.label)
