// Before the streamed partition writes components: none left from an earlier partition (batched).
MATCH (a:Account) WHERE a.component IS NOT NULL
WITH a LIMIT $limit
REMOVE a.component
RETURN count(*) AS cleared
