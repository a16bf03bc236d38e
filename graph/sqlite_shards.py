"""`SQLiteStore`'s staged shard results (`graph.shards.ShardStore`), in the `sweep_shards` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

from ringfence.graph.shards import ShardStatus


class SQLiteShards:
    """Mixed into `SQLiteStore`, whose `_write` / `_read` it uses."""

    _write: Any
    _read: Any

    def stage_shard(self, sweep_id: str, shard: int, status: ShardStatus, payload: bytes) -> None:
        with cast(AbstractContextManager[sqlite3.Connection], self._write()) as conn:
            conn.execute("INSERT OR REPLACE INTO sweep_shards VALUES (?, ?, ?, ?)",
                         (sweep_id, shard, status, sqlite3.Binary(payload)))

    def staged_shards(self, sweep_id: str) -> dict[int, tuple[ShardStatus, bytes]]:
        rows: Sequence[tuple[int, ShardStatus, bytes]] = self._read(
            "SELECT shard, status, payload FROM sweep_shards WHERE sweep_id = ?", (sweep_id,))
        return {int(k): (s, bytes(p)) for k, s, p in rows}

    def shard_statuses(self, sweep_id: str) -> dict[int, ShardStatus]:
        rows = self._read("SELECT shard, status FROM sweep_shards WHERE sweep_id = ?", (sweep_id,))
        return {int(k): s for k, s in rows}

    def drop_staged(self, sweep_id: str) -> None:
        with cast(AbstractContextManager[sqlite3.Connection], self._write()) as conn:
            conn.execute("DELETE FROM sweep_shards WHERE sweep_id = ?", (sweep_id,))

