// Each given account's risk as `account_view` gives it, without its links: the current
// sweep's risk when the sweep covers the account, else its latest online score.
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: m.value})
WITH sw
UNWIND $ids AS id
MATCH (a:Account {id: id})
OPTIONAL MATCH (r:SweepRisk {gen: sw.gen, account_id: id})
OPTIONAL MATCH (s:Score {account_id: id})
RETURN collect([id, coalesce(r.risk, s.risk)]) AS rows
