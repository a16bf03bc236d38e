// A batch of online scores in one statement, one row per account, sorted by id (a fixed lock
// order). The Score node is write-locked (created if missing) before its as_of is read, so
// concurrent writers serialise; the account's scores then apply in batch order, each written
// unless the one it would replace has a newer as_of. The account's score request is settled
// if it was made at or before the latest as_of of the batch, written or not: a score computed
// from a view of the graph at or after the request answers it, a newer request stays pending.
UNWIND $rows AS row
MERGE (s:Score {account_id: row.account_id})
SET s._lock = true
WITH s, row, reduce(acc = {as_of: s.as_of, n: 0, w: null}, x IN row.scores |
       CASE WHEN acc.as_of IS NULL OR x.as_of >= acc.as_of THEN {as_of: x.as_of, n: acc.n + 1, w: x} ELSE acc END
     ) AS applied
FOREACH (w IN CASE WHEN applied.w IS NULL THEN [] ELSE [applied.w] END |
  SET s.risk = w.risk, s.model_version = w.model_version, s.scored_at = w.scored_at, s.as_of = w.as_of,
      s.reasons = w.reasons, s.ring_id = w.ring_id)
REMOVE s._lock
WITH row, applied
OPTIONAL MATCH (a:Account {id: row.account_id})
WHERE a.score_requested_at <= row.latest
REMOVE a.score_requested_at
RETURN sum(applied.n) AS written
