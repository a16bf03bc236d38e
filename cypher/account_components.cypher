// One keyset page of [account id, component, links] in id order (component -1: GDS did not
// reach it). Links are the three identifier relationship types only: a ring membership
// (MEMBER_OF) is not a link and must not weigh in the shard packing. COUNT { } over typed
// relationships reads the degree store, so no link crosses Bolt.
MATCH (a:Account)
WHERE a.id > $after
WITH a ORDER BY a.id LIMIT $limit
RETURN collect([a.id, coalesce(a.component, -1),
                COUNT { (a)-[:HAS_CARD|USES_DEVICE|PAYS_OUT_TO]->() }]) AS rows
