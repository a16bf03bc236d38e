"""SQLite-only behaviour: the WAL is checkpointed off the request path."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from ringfence.graph.model import AccountIn, Link
from ringfence.graph.sqlite_store import SQLiteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_wal_is_copied_back_in_the_background_and_the_thread_stops_with_the_store(sqlite_store: SQLiteStore) -> None:
    db = sqlite_store.path
    before = db.stat().st_size
    # a few MB of commits: far below the 256 MB at which a commit checkpoints by itself
    sqlite_store.upsert_accounts([AccountIn(f"a{k}", T0, {}, (Link("card", f"c{k}", None),)) for k in range(3000)])
    deadline = time.monotonic() + 15
    while db.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.stat().st_size > before  # the pages reached the database file with no further write
    name = f"sqlite-checkpoint:{db}"
    assert any(t.name == name for t in threading.enumerate())
    sqlite_store.close()
    assert not any(t.name == name for t in threading.enumerate())
