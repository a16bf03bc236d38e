"""Every Neo4j query, one `.cypher` file each, shipped as package data (`ringfence.cypher`).

Read only by `ringfence.graph.neo4j_queries`, through `importlib.resources`.
"""
