// The smallest and largest component id on accounts, each by one ordered read of the component
// index (no scan, no sort); no row when no account has one.
CALL () { MATCH (a:Account) WHERE a.component IS NOT NULL RETURN a.component AS lo ORDER BY lo ASC LIMIT 1 }
CALL () { MATCH (a:Account) WHERE a.component IS NOT NULL RETURN a.component AS hi ORDER BY hi DESC LIMIT 1 }
RETURN lo, hi
