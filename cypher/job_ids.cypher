MATCH (j:Job {status: $status})
RETURN j.id AS id
ORDER BY j.created_at
LIMIT $limit
