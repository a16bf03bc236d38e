// Takes the lock if free, expired, or already ours. SET _lock write-locks the node first,
// so concurrent callers see each other's committed owner.
MERGE (l:Lock {name: $name})
  ON CREATE SET l.owner = $owner, l.expires_at = $expires_at
SET l._lock = true
WITH l
WITH l, (l.expires_at < $now OR l.owner = $owner) AS take
SET l.owner = CASE WHEN take THEN $owner ELSE l.owner END,
    l.expires_at = CASE WHEN take THEN $expires_at ELSE l.expires_at END
REMOVE l._lock
RETURN l.owner = $owner AS acquired
