CREATE INDEX ring_history_ring IF NOT EXISTS FOR (h:RingHistory) ON (h.ring_id)
