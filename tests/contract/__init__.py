"""The store contract: identical assertions on every backend (SQLite and a real Neo4j 5.26),
plus each backend's own behaviour."""
