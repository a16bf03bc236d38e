CREATE CONSTRAINT ring_member_key IF NOT EXISTS FOR (m:RingMember) REQUIRE (m.gen, m.ring_id, m.account_id) IS UNIQUE
