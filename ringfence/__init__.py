"""ringfence: fraud-ring detection over an account–identifier graph.

One installed namespace, layered (docs/architecture.md): `ringfence.core` ← `ringfence.graph`
← `ringfence.gnn` ← `ringfence.services` ← `ringfence.workers` ← `ringfence.api` ← `ringfence.cli`.
"""

__version__ = "0.1.0"
