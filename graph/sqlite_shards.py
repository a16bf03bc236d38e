"""`SQLiteStore`'s staged shard results (`graph.shards.ShardStore`), in the `sweep_shards` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np

from ringfence.graph.model import IdentifierKey, Subgraph
from ringfence.graph.partition import ComponentStream, ComponentTable, canonical
from ringfence.graph.shards import ShardStatus


class SQLiteShards:
    """Mixed into `SQLiteStore`, whose `_write` / `_read` it uses."""

    _write: Any
    _read: Any
    _conn: Any
    _account_rows: Any
    _links_of: Any
    benign_identifiers: Any
    rings_of: Any

    def shard_neighbourhood(self, account_ids: Sequence[str], hub_cap: int) -> Subgraph:
        """`graph.neighbourhood.expand(hops=1)`'s result, with the identifiers' degrees and accounts
        read by joins on a temporary key table (`links_by_identifier`), not two queries per key."""
        rows = self._account_rows(account_ids)
        own = self._links_of(sorted(rows))
        keys = sorted({key for _, key, _ in own}, key=lambda k: (k.type, k.id))
        conn = self._conn()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS shard_keys (type TEXT NOT NULL, id TEXT NOT NULL)")
        conn.execute("DELETE FROM shard_keys")
        conn.executemany("INSERT INTO shard_keys VALUES (?, ?)", [(k.type, k.id) for k in keys])
        degrees = {IdentifierKey(t, i): int(n) for t, i, n in conn.execute(
            "SELECT k.type, k.id, (SELECT count(*) FROM links l WHERE l.type = k.type AND l.id = k.id) "
            "FROM shard_keys k")}
        capped = [k for k in keys if degrees[k] > hub_cap]
        conn.execute("DELETE FROM shard_keys")
        conn.executemany("INSERT INTO shard_keys VALUES (?, ?)", [(k.type, k.id) for k in keys
                                                                 if degrees[k] <= hub_cap])
        edges: dict[tuple[str, IdentifierKey], datetime] = {(a, k): t for a, k, t in own}
        for a, t, i, f in conn.execute(
                "SELECT l.account_id, l.type, l.id, l.first_seen FROM shard_keys k "
                "JOIN links l ON l.type = k.type AND l.id = k.id"):
            edges[(a, IdentifierKey(t, i))] = datetime.fromtimestamp(f, UTC)
        conn.execute("DELETE FROM shard_keys")
        for key in capped:  # hubs: their `hub_cap` earliest-linked accounts (the halo)
            for a, f in conn.execute(
                    "SELECT account_id, first_seen FROM links WHERE type = ? AND id = ? "
                    "ORDER BY first_seen, account_id LIMIT ?", (key.type, key.id, hub_cap)):
                edges[(a, key)] = datetime.fromtimestamp(f, UTC)
        rows.update(self._account_rows(sorted({a for a, _ in edges} - rows.keys())))
        sub = Subgraph(
            seeds=[s for s in dict.fromkeys(account_ids) if s in rows],
            accounts=rows,
            identifiers=degrees,
            edges=sorted(((a, k, t) for (a, k), t in edges.items()), key=lambda e: (e[0], e[1].type, e[1].id)),
            capped=capped,
            benign=self.benign_identifiers() & degrees.keys(),
        )
        sub.rings = self.rings_of(list(sub.accounts))
        return sub

    def write_components(self, hub_cap: int, chunk_size: int = 200_000) -> ComponentTable:
        """Components of the linking graph, kept in `account_components` (component, account id:
        a shard reads its accounts by component) and returned as integers per component.

        Read: one read transaction; account codes (positions in id order) are numbered by SQLite
        in a temporary table, and links arrive as (code, type, id) in identifier order (the
        covering index, no sort) into `ComponentStream`; no identifier string outlives its chunk
        and no account id enters this process. Write: the canonical label of each code goes to a
        temporary table, and SQLite joins it to the ids, sorted by component, into the table (one
        write transaction, replacing the previous partition's rows)."""
        conn = self._conn()
        for ddl in ("DROP TABLE IF EXISTS temp.partition_codes", "DROP TABLE IF EXISTS temp.partition_labels",
                    # code is the rowid; the unique index on id covers (id, code) for the link join
                    "CREATE TEMP TABLE partition_codes (code INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
                    "CREATE TEMP TABLE partition_labels (code INTEGER PRIMARY KEY, component INTEGER NOT NULL)"):
            conn.execute(ddl)
        conn.execute("BEGIN")
        try:
            conn.execute("INSERT INTO partition_codes SELECT row_number() OVER (ORDER BY id) - 1, id FROM accounts")
            n = conn.execute("SELECT count(*) FROM partition_codes").fetchone()[0]
            stream = ComponentStream(n, hub_cap, set(conn.execute("SELECT type, id FROM benign")))
            cur = conn.execute(
                "SELECT c.code, l.type, l.id FROM links AS l INDEXED BY links_by_identifier "
                "CROSS JOIN partition_codes AS c ON c.id = l.account_id ORDER BY l.type, l.id")
            while rows := cur.fetchmany(chunk_size):
                codes, types, values = zip(*rows, strict=True)
                stream.add(np.fromiter(codes, dtype=np.int64, count=len(codes)), types, values)
            component, links, hubs = stream.finish()
            label = canonical(component)
            for lo in range(0, n, chunk_size):
                part = label[lo:lo + chunk_size].tolist()
                conn.executemany("INSERT INTO partition_labels VALUES (?, ?)",
                                 zip(range(lo, lo + len(part)), part, strict=True))
        finally:
            conn.execute("COMMIT")
        try:
            with cast(AbstractContextManager[sqlite3.Connection], self._write()) as w:
                w.execute("DELETE FROM account_components")
                w.execute("INSERT INTO account_components SELECT l.component, c.id FROM partition_labels AS l "
                          "JOIN partition_codes AS c ON c.code = l.code ORDER BY l.component, c.id")
        finally:
            conn.execute("DROP TABLE temp.partition_codes")
            conn.execute("DROP TABLE temp.partition_labels")
        return ComponentTable.of(label, links, hubs)

    def component_accounts(self, components: Sequence[int]) -> list[str]:
        out: list[str] = []
        for k in range(0, len(components), 500):
            chunk = [int(c) for c in components[k:k + 500]]
            out.extend(r[0] for r in self._read(
                f"SELECT account_id FROM account_components WHERE component IN ({','.join('?' * len(chunk))})",
                chunk))
        return sorted(out)

    def stage_shard(self, sweep_id: str, shard: int, status: ShardStatus, payload: bytes) -> None:
        with cast(AbstractContextManager[sqlite3.Connection], self._write()) as conn:
            conn.execute("INSERT OR REPLACE INTO sweep_shards VALUES (?, ?, ?, ?)",
                         (sweep_id, shard, status, sqlite3.Binary(payload)))

    def staged_shard(self, sweep_id: str, shard: int) -> tuple[ShardStatus, bytes] | None:
        rows: Sequence[tuple[ShardStatus, bytes]] = self._read(
            "SELECT status, payload FROM sweep_shards WHERE sweep_id = ? AND shard = ?", (sweep_id, shard))
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    def shard_statuses(self, sweep_id: str) -> dict[int, ShardStatus]:
        rows = self._read("SELECT shard, status FROM sweep_shards WHERE sweep_id = ?", (sweep_id,))
        return {int(k): s for k, s in rows}

    def drop_staged(self, sweep_id: str) -> None:
        with cast(AbstractContextManager[sqlite3.Connection], self._write()) as conn:
            conn.execute("DELETE FROM sweep_shards WHERE sweep_id = ?", (sweep_id,))

