MATCH (j:Job)
RETURN j.kind AS kind, j.status AS status, count(*) AS n
