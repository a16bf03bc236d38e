CREATE INDEX case_entry_ring IF NOT EXISTS FOR (e:CaseEntry) ON (e.ring_id, e.seq)
