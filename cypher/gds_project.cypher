// The partition's projection (graph/neo4j_shards.py): every account, joined to the linking
// identifiers only (2..$hub_cap accounts, not benign), as a Cypher aggregation projection. An
// account without a linking identifier is projected alone (null target), so WCC writes every
// account's component and none keeps a stale one. COUNT { (i)<--() } reads the degree store.
MATCH (a:Account)
OPTIONAL MATCH (a)-[]->(i:Identifier)
  WHERE COUNT { (i)<--() } >= 2 AND COUNT { (i)<--() } <= $hub_cap
    AND NOT EXISTS { MATCH (:Benign {key: i.key}) }
WITH gds.graph.project($name, a, i, {}, {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.graphName AS name, g.nodeCount AS nodes, g.relationshipCount AS relationships
