CREATE INDEX account_component IF NOT EXISTS FOR (a:Account) ON (a.component)
