// Whether the database holds anything but the store's markers (Meta nodes): one node is enough.
MATCH (n)
WHERE NOT n:Meta
WITH n LIMIT 1
RETURN count(n) AS n
