MATCH (a:Account) RETURN count(a) AS n
