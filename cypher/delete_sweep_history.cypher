MATCH (h:RingHistory {sweep_id: $sweep_id})
DELETE h
