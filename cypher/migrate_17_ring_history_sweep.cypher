CREATE INDEX ring_history_sweep IF NOT EXISTS FOR (h:RingHistory) ON (h.sweep_id)
