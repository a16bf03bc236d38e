"""The dev services start real servers: Neo4j 5.26 over Bolt, redis-server over RESP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservices.services import Neo4jServer, RedisServer, redis_ping


@pytest.fixture(scope="module")
def neo4j_dev() -> Iterator[Neo4jServer]:
    # C1-only JIT: this module only checks that the server works, not how fast it runs.
    server = Neo4jServer(quick_start=True)
    server.start()  # raises with the server's log tail if it does not come up
    home, pid = server.home, server.pid
    assert home is not None and home.is_dir() and pid is not None
    yield server
    server.stop()  # closes the launcher's stdin: a clean shutdown, then the temp home goes
    assert not server.is_running() and not home.exists()
    assert not Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def redis_dev() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def test_neo4j_answers_a_parameterised_query_over_bolt(neo4j_dev: Neo4jServer) -> None:
    import neo4j

    assert neo4j_dev.bolt_url == f"bolt://127.0.0.1:{neo4j_dev.port}"
    assert neo4j_dev.graph_url == f"neo4j://neo4j:password@127.0.0.1:{neo4j_dev.port}"
    # Auth is disabled server-side; the basic auth that ringfence sends must still be accepted.
    for url in (neo4j_dev.bolt_url, f"neo4j://127.0.0.1:{neo4j_dev.port}"):
        with neo4j.GraphDatabase.driver(url, auth=("neo4j", "password")) as driver:
            records, _, _ = driver.execute_query("CREATE (n:T {x: $x}) RETURN n.x AS x", x=42, database_="neo4j")
            assert [r["x"] for r in records] == [42]
    with neo4j.GraphDatabase.driver(neo4j_dev.bolt_url, auth=("neo4j", "password")) as driver:
        records, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition RETURN versions[0] AS v, edition"
        )
        assert records[0]["v"].startswith("5.26.")
        assert records[0]["edition"] == "community"
        count, _, _ = driver.execute_query("MATCH (n:T) RETURN count(n) AS c")
        assert count[0]["c"] == 2


def test_redis_answers_ping_and_survives_restart(redis_dev: RedisServer) -> None:
    port = redis_dev.port
    assert redis_dev.url == f"redis://127.0.0.1:{port}/0"
    assert redis_ping(port)
    first_pid = redis_dev.pid
    redis_dev.restart()
    assert redis_dev.port == port and redis_dev.pid != first_pid
    assert redis_ping(port)


def test_redis_kill_then_start_on_the_same_port(redis_dev: RedisServer) -> None:
    port = redis_dev.port
    redis_dev.kill()
    assert not redis_ping(port, timeout=0.5)
    redis_dev.start()
    assert redis_dev.port == port and redis_ping(port)
    assert redis_dev.directory is not None and os.path.isdir(redis_dev.directory)
