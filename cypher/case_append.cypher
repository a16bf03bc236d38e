// Each row sets a case's state (creating it) and appends its history entry; `seq` orders entries
// (in the order they were written; updated_at is the latest entry time).
UNWIND $rows AS row
MERGE (c:Case {ring_id: row.ring_id})
SET c.status = row.status, c.assignee = row.assignee, c.updated_at = CASE WHEN c.updated_at > row.at THEN c.updated_at ELSE row.at END, c.seq = coalesce(c.seq, 0) + 1
CREATE (:CaseEntry {ring_id: row.ring_id, seq: c.seq, at: row.at, status: row.status, assignee: row.assignee,
                    note: row.note, key_id: row.key_id})
