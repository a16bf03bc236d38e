// The cases of $ids (absent ids are skipped), each with its history oldest first.
UNWIND $ids AS id
MATCH (c:Case {ring_id: id})
RETURN c.ring_id AS ring_id, c.status AS status, c.assignee AS assignee, c.updated_at AS updated_at,
       COLLECT {
         MATCH (e:CaseEntry)
         WHERE e.ring_id = id AND e.seq IS NOT NULL
         WITH e ORDER BY e.seq
         RETURN [e.at, e.status, e.assignee, e.note, e.key_id]
       } AS history
