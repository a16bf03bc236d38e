// Write-locks the batch's score nodes (creating missing ones) before their as_of is read.
UNWIND $ids AS id
MERGE (s:Score {account_id: id})
SET s._lock = true
RETURN id, s.as_of AS as_of
