"""Helpers for tests and benchmarks: small synthetic worlds in a store."""

from __future__ import annotations

from typing import Any

from ringfence.graph.loader import load_records
from ringfence.graph.store import GraphStore


def load_world(store: GraphStore, accounts: int, seed: int = 1, preset: str = "default") -> list[dict[str, Any]]:
    """Generate a world, load it (truth is not stored) and return the records with their truth."""
    from ringfence.graph.synthetic import generate, params_for

    records = list(generate(params_for(preset, accounts=accounts, seed=seed)))
    for _ in load_records(store, records):
        pass
    return records
