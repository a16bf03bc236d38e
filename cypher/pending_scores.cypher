// Only accounts with an unsettled request carry score_requested_at, so the range index
// (migrate_22) holds just those: the query never scans the accounts at large.
MATCH (a:Account)
WHERE a.score_requested_at <= $before
RETURN a.id AS id
ORDER BY a.score_requested_at, a.id
LIMIT $limit
