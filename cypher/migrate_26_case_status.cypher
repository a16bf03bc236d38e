CREATE INDEX case_status IF NOT EXISTS FOR (c:Case) ON (c.status, c.assignee)
