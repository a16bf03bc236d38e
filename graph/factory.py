"""Picks the store backend from settings through an explicit mapping.

Each backend takes its own typed config (`SQLiteConfig`, `Neo4jConfig`); the functions here are
the one place that builds them from `Settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ringfence.core.settings import Settings
from ringfence.graph.store import GraphStore

if TYPE_CHECKING:
    from ringfence.graph.neo4j_store import Neo4jConfig
    from ringfence.graph.sqlite_store import SQLiteConfig


def sqlite_config(settings: Settings) -> SQLiteConfig:
    from ringfence.graph.sqlite_store import SQLiteConfig

    return SQLiteConfig(settings.sqlite_path)


def neo4j_config(settings: Settings) -> Neo4jConfig:
    from ringfence.graph.neo4j_store import Neo4jConfig

    return Neo4jConfig.from_url(settings.effective_graph_url, database=settings.neo4j_database,
                                retry_time_s=settings.neo4j_retry_time_s)


def _sqlite(settings: Settings) -> GraphStore:
    from ringfence.graph.sqlite_store import SQLiteStore

    return SQLiteStore(sqlite_config(settings))


def _neo4j(settings: Settings) -> GraphStore:
    from ringfence.graph.neo4j_store import Neo4jStore

    return Neo4jStore(neo4j_config(settings))


BACKENDS: dict[str, Callable[[Settings], GraphStore]] = {"sqlite": _sqlite, "neo4j": _neo4j}


def open_store(settings: Settings, migrate: bool = True) -> GraphStore:
    store = BACKENDS[settings.backend](settings)
    if migrate:
        store.migrate()
    return store
