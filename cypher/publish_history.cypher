UNWIND $rows AS row
CREATE (:RingHistory {ring_id: row.ring_id, sweep_id: $sweep_id, at: $at, event: row.event, size: row.size})
