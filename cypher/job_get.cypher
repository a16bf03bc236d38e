MATCH (j:Job {id: $id})
RETURN j.id AS id, j.kind AS kind, j.status AS status, j.created_at AS created_at,
       j.started_at AS started_at, j.finished_at AS finished_at, j.result AS result,
       j.error AS error, j.params AS params
