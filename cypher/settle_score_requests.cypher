// A score settles the account's request if it was computed from a view of the graph at or
// after the request; a newer request (a later upsert) stays pending.
UNWIND $rows AS row
MATCH (a:Account {id: row.account_id})
WHERE a.score_requested_at <= row.as_of
REMOVE a.score_requested_at
