"""Fast tests of one module at a time; real SQLite stores, no servers."""
