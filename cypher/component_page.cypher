// One page of the components GDS WCC wrote (graph/neo4j_shards.py: component_table): for every
// component id in [$lo, $hi), [component, accounts, links], by a range seek on the component
// index. Links are the three identifier relationship types only: a ring membership (MEMBER_OF)
// is not a link and must not weigh in the shard packing. COUNT { } reads the degree store.
MATCH (a:Account)
WHERE a.component >= $lo AND a.component < $hi
WITH a.component AS c, count(*) AS n, sum(COUNT { (a)-[:HAS_CARD|USES_DEVICE|PAYS_OUT_TO]->() }) AS l
ORDER BY c
RETURN collect([c, n, l]) AS rows
