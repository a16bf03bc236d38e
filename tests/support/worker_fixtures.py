"""Fixtures of the real-worker tests (`tests/integration/test_workers_*.py`), imported by name.

Each test gets its own persistent redis-server, its own SQLite store and the Celery worker
processes it starts, stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfence.graph.sqlite_store import SQLiteStore
from tests.support.launchers import RedisServer, Worker

# Short job limits so a redelivery after a lost worker shows within seconds; the lock TTL,
# the job's hard limit and the visibility timeout keep their production order.
FAST_REDELIVERY = {
    "RINGFENCE_SWEEP_LOCK_TTL_S": "10",
    "RINGFENCE_JOB_TIME_LIMIT_S": "10",
    "RINGFENCE_BROKER_VISIBILITY_TIMEOUT_S": "12",
}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(directory=tmp_path / "redis", persist=True) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "graph.db")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()
