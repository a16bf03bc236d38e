CREATE INDEX ring_member_account IF NOT EXISTS FOR (m:RingMember) ON (m.gen, m.account_id)
