// Each row sets a case's state (creating it) and appends its history entry; `seq` orders entries.
UNWIND $rows AS row
MERGE (c:Case {ring_id: row.ring_id})
SET c.status = row.status, c.assignee = row.assignee, c.updated_at = row.at, c.seq = coalesce(c.seq, 0) + 1
CREATE (:CaseEntry {ring_id: row.ring_id, seq: c.seq, at: row.at, status: row.status, assignee: row.assignee,
                    note: row.note, key_id: row.key_id})
