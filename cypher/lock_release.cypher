MATCH (l:Lock {name: $name, owner: $owner})
DELETE l
