"""The use cases: ingest, scoring, sweeps, training and jobs.

Above `gnn` and `graph`, below `api`, `workers` and `cli`: routes and tasks are thin adapters
over these functions, which take and return domain types.
"""
