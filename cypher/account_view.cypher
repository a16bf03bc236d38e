// Full accounts in input order; sweep risk from $sweep_id (null: the current sweep).
OPTIONAL MATCH (m:Meta {key: 'current_sweep'})
OPTIONAL MATCH (sw:Sweep {sweep_id: coalesce($sweep_id, m.value)})
WITH sw
UNWIND $ids AS id
MATCH (a:Account {id: id})
OPTIONAL MATCH (r:SweepRisk {gen: sw.gen, account_id: id})
OPTIONAL MATCH (s:Score {account_id: id})
RETURN a.id AS id, a.created_at AS created_at, a.attributes AS attributes, a.label AS label,
       r.risk AS sweep_risk, r.ring_id AS ring_id,
       s.risk AS score_risk, s.scored_at AS scored_at, s.model_version AS score_model,
       sw.finished_at AS sweep_at, sw.model_version AS sweep_model,
       COLLECT {
         MATCH (a)-[l]->(i:Identifier)
         WITH i, l ORDER BY i.type, i.id
         RETURN [i.type, i.id, l.first_seen, l.last_seen]
       } AS links
