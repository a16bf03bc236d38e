"""Development tooling, never shipped in the wheel: real Neo4j 5.26 and redis-server on loopback.

`python -m devservices prepare|neo4j|redis`; tests start their servers through `services`.
"""
