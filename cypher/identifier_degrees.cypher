UNWIND $keys AS key
MATCH (i:Identifier {key: key})
RETURN key, COUNT { (i)<--() } AS degree
