"""Picks the store backend from settings through an explicit mapping."""

from __future__ import annotations

from collections.abc import Callable

from ringfence.core.settings import Settings
from ringfence.graph.store import GraphStore


def _sqlite(settings: Settings) -> GraphStore:
    from ringfence.graph.sqlite_store import SQLiteStore

    return SQLiteStore(settings.sqlite_path)


def _neo4j(settings: Settings) -> GraphStore:
    from ringfence.graph.neo4j_store import Neo4jStore

    return Neo4jStore(settings.neo4j, retry_time_s=settings.neo4j_retry_time_s)


BACKENDS: dict[str, Callable[[Settings], GraphStore]] = {"sqlite": _sqlite, "neo4j": _neo4j}


def open_store(settings: Settings, migrate: bool = True) -> GraphStore:
    store = BACKENDS[settings.backend](settings)
    if migrate:
        store.migrate()
    return store
