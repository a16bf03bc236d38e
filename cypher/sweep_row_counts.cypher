// Diagnostics (tests): how many published-sweep nodes of each kind exist, in all generations.
CALL () { MATCH (n:SweepRisk) RETURN count(n) AS risks }
CALL () { MATCH (n:SweepRing) RETURN count(n) AS rings }
CALL () { MATCH (n:RingMember) RETURN count(n) AS members }
CALL () { MATCH (n:RingIdent) RETURN count(n) AS idents }
CALL () { MATCH (n:Sweep) RETURN count(n) AS sweeps }
CALL () { MATCH (n:Publication) RETURN count(n) AS publications }
CALL () { MATCH (n:RingHistory) RETURN count(n) AS history }
RETURN risks, rings, members, idents, sweeps, publications, history
