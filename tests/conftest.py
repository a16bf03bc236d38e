"""Shared fixtures: a real SQLite store, a real Neo4j 5.26 server, a real redis-server.

Services that fail to start fail the tests that need them; they are never skipped in CI.
A developer may skip the Neo4j leg locally with RINGFENCE_SKIP_NEO4J=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ringfence.core.settings import Settings
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.graph.store import GraphStore

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

BACKENDS = ["sqlite", "neo4j"]


def _skip_neo4j() -> bool:
    return os.environ.get("RINGFENCE_SKIP_NEO4J") == "1" and not os.environ.get("CI")


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[object]:
    if _skip_neo4j():
        pytest.skip("RINGFENCE_SKIP_NEO4J=1 (never honoured in CI)")
    from devservices.services import Neo4jServer

    server = Neo4jServer()
    server.start()  # raises with the server's log tail if it does not come up
    yield server
    server.stop()


@pytest.fixture(scope="session")
def neo4j_url(neo4j_server: object) -> str:
    return str(neo4j_server.graph_url)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def _neo4j_store(neo4j_url: str) -> Iterator[GraphStore]:
    from ringfence.graph.factory import neo4j_config
    from ringfence.graph.neo4j_store import Neo4jStore

    store = Neo4jStore(neo4j_config(Settings(graph_url=neo4j_url)))
    store.migrate()
    yield store
    store.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    from devservices.services import RedisServer

    with RedisServer() as server:
        yield server


def make_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> GraphStore:
    if backend == "sqlite":
        store = SQLiteStore(tmp_path / "graph.db")
        store.migrate()
        request.addfinalizer(store.close)
        return store
    neo: GraphStore = request.getfixturevalue("_neo4j_store")
    neo.reset()  # a clean graph per test on the session's server
    return neo


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> GraphStore:
    """The store under test, once per backend, with identical assertions for each."""
    return make_store(request.param, tmp_path, request)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "graph.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The API on a fresh embedded store, as the API test modules use it."""
    from tests.support.clients import running_app

    with running_app(tmp_path) as c:
        yield c
