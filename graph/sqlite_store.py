"""The embedded graph store: one SQLite file in WAL mode, a connection per thread."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from itertools import islice, takewhile
from pathlib import Path
from typing import Any

from ringfence.core.clock import utcnow
from ringfence.core.errors import NotFound, StoreUnavailable
from ringfence.graph import cursor as cursors
from ringfence.graph import model
from ringfence.graph.arrays import AttributeSpec, GraphArrays, gc_paused
from ringfence.graph.cases import case_move, fraud_labels, merge_involved, merge_writes, merged_rings
from ringfence.graph.neighbourhood import Edge, expand, expand_bounded
from ringfence.graph.sqlite_arrays import read_arrays
from ringfence.graph.sqlite_shards import SQLiteShards
from ringfence.graph.store import AccountOrder
from ringfence.graph.stored_json import load_attributes

_SCHEMA = files("ringfence.graph") / "sqlite_schema.sql"
_CHUNK = 900  # stays under SQLite's bound-parameter limit
_RISK_CHUNK = 20_000  # risks a publication writes per ring lookup
_KEEP_SWEEPS = 3  # current, previous, and one more for cursors pinned during a flip


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _dtn(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Checkpointer:
    """Copies the WAL back into the database file off the request path, every `interval_s`.

    PASSIVE checkpoints take no lock that readers or writers wait on, and the thread spends its
    time inside SQLite, which releases the GIL. Sync scoring at 100 req/s, 9 runs each, same
    window: p99 median 46.8 ms with commits checkpointing (4 runs over 50 ms, one 177 ms) and
    32.3 ms with this thread (one over 50 ms); p50 unchanged.
    """

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self._path, self._interval_s = path, interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqlite-checkpoint:{path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stopped.wait(self._interval_s):
            try:
                # mode=rw: a store whose file was removed is not created again
                conn = conn or sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=rw", uri=True, timeout=0,
                                               isolation_level=None)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                pass  # busy or gone: the next round, or a commit past the cap, checkpoints
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@dataclass(frozen=True)
class SQLiteConfig:
    """Where the embedded store keeps its file (created with its folder if missing)."""

    path: Path


class SQLiteStore(SQLiteShards):
    backend = "sqlite"

    def __init__(self, config: SQLiteConfig | Path | str) -> None:
        """`config`, or the database file's path as shorthand for `SQLiteConfig(path)`."""
        self.config = config if isinstance(config, SQLiteConfig) else SQLiteConfig(Path(config))
        self.path = self.config.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._checkpointer: _Checkpointer | None = None

    # -- connections -------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=OFF")
                conn.execute("PRAGMA cache_size=-200000")
                # Checkpoints run in the background (`_Checkpointer`); a commit checkpoints by itself
                # only past 256 MB of WAL, when the background one falls behind. A commit that
                # checkpoints stalls every request queued behind it, and a 5,000-account batch
                # dirties ~25 MB of scattered index pages (200k accounts in 40 batches: 26.9 s with
                # commits checkpointing every 64 MB, 20.5 s every 256 MB).
                conn.execute("PRAGMA wal_autocheckpoint=64000")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"SQLite store at {self.path} cannot be opened") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
                if self._checkpointer is None:
                    self._checkpointer = _Checkpointer(self.path)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable("SQLite store is busy") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql, params).fetchall()

    # -- lifecycle ---------------------------------------------------------------------
    def migrate(self) -> None:
        self._conn().executescript(_SCHEMA.read_text(encoding="utf-8"))

    def ping(self) -> None:
        try:
            self._read("SELECT 1")
        except sqlite3.Error as exc:
            raise StoreUnavailable("SQLite store does not answer") from exc

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def checkpoint(self) -> None:
        """Copy the whole WAL into the database file and empty it, so that the file alone is the
        database: for a caller about to copy or move the file (the benchmarks cache their worlds)."""
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def reset(self) -> None:
        tables = [r[0] for r in self._read("SELECT name FROM sqlite_master WHERE type='table'")]
        with self._write() as conn:
            for table in tables:
                conn.execute(f"DELETE FROM {table}")  # names come from sqlite_master, not input

    # -- accounts and links ------------------------------------------------------------
    def upsert_accounts(self, accounts: Sequence[model.AccountIn], request_scores: bool = False) -> tuple[int, int]:
        account_rows = [(a.id, a.created_at.timestamp(), json.dumps(a.attributes, sort_keys=True)) for a in accounts]
        # A link without seen_at is dated by its account's created_at in the same batch:
        # min/max merges then stay order-independent, and a repeated body changes nothing.
        link_rows = [
            (a.id, link.type, link.id, seen, seen)
            for a in accounts
            for link in a.links
            for seen in [(link.seen_at or a.created_at).timestamp()]
        ]
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO accounts(id, created_at, attributes) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET created_at = min(created_at, excluded.created_at), "
                "attributes = json_patch(attributes, excluded.attributes)",
                account_rows,
            )
            conn.executemany(
                "INSERT INTO links(account_id, type, id, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(account_id, type, id) DO UPDATE SET "
                "first_seen = min(first_seen, excluded.first_seen), "
                "last_seen = max(last_seen, excluded.last_seen)",
                link_rows,
            )
            if request_scores:
                now = utcnow().timestamp()
                conn.executemany(
                    "INSERT INTO score_requests(account_id, requested_at) VALUES (?, ?) ON CONFLICT(account_id) "
                    "DO UPDATE SET requested_at = max(requested_at, excluded.requested_at)",
                    [(account_id, now) for account_id in dict.fromkeys(a.id for a in accounts)],
                )
        return len(accounts), len(link_rows)

    def get_accounts(self, account_ids: Sequence[str]) -> list[model.Account]:
        # In-process reads cost tens of microseconds: one query shape for one and many.
        return [a for i in dict.fromkeys(account_ids) if (a := self.get_account(i)) is not None]

    def get_account(self, account_id: str) -> model.Account | None:
        rows = self._read(
            "SELECT a.id, a.created_at, a.attributes, a.label, r.risk, r.ring_id, s.risk, s.scored_at, "
            "s.model_version, sw.finished_at, sw.model_version "
            "FROM accounts a "
            "LEFT JOIN sweep_risks r ON r.account_id = a.id AND r.sweep_id = "
            "  (SELECT value FROM meta WHERE key = 'current_sweep') "
            "LEFT JOIN sweeps sw ON sw.sweep_id = r.sweep_id "
            "LEFT JOIN scores s ON s.account_id = a.id WHERE a.id = ?",
            (account_id,),
        )
        if not rows:
            return None
        links = [
            model.StoredLink(t, i, _dtn(f), _dtn(la))
            for t, i, f, la in self._read(
                "SELECT type, id, first_seen, last_seen FROM links WHERE account_id = ? ORDER BY type, id",
                (account_id,),
            )
        ]
        return _account(rows[0], links)

    def missing_accounts(self, account_ids: Sequence[str]) -> list[str]:
        found: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(account_ids))):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._read(f"SELECT id FROM accounts WHERE id IN ({marks})", chunk))
        return [a for a in account_ids if a not in found]

    def count_accounts(self) -> int:
        return int(self._read("SELECT count(*) FROM accounts")[0][0])

    def get_risks(self, account_ids: Sequence[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for chunk in _chunks(list(dict.fromkeys(account_ids))):
            marks = ",".join("?" * len(chunk))
            for a, sweep_risk, risk in self._read(
                "SELECT a.id, r.risk, s.risk FROM accounts a "
                "LEFT JOIN sweep_risks r ON r.account_id = a.id AND r.sweep_id = "
                "  (SELECT value FROM meta WHERE key = 'current_sweep') "
                f"LEFT JOIN scores s ON s.account_id = a.id WHERE a.id IN ({marks})",
                chunk,
            ):
                out[a] = sweep_risk if sweep_risk is not None else risk
        return out

    def neighbourhood(
        self, seeds: Sequence[str], hops: int, hub_cap: int, max_nodes: int | None = None,
        max_edges: int | None = None,
    ) -> model.Subgraph:
        if max_nodes is None or max_edges is None:
            sub = expand(self, seeds, hops, hub_cap)
        else:
            sub = expand_bounded(self, seeds, hops, hub_cap, max_nodes, max_edges)
        sub.rings = self.rings_of(list(sub.accounts))
        return sub

    def upsert_and_neighbourhood(
        self, accounts: Sequence[model.AccountIn], hops: int, hub_cap: int
    ) -> tuple[model.Subgraph, datetime]:
        # Embedded, a transaction costs microseconds: two of them, the clock read in between.
        self.upsert_accounts(accounts, request_scores=True)
        as_of = utcnow()
        return self.neighbourhood([a.id for a in accounts], hops, hub_cap), as_of

    def _links_of(self, account_ids: Sequence[str]) -> list[Edge]:
        out: list[Edge] = []
        for chunk in _chunks(account_ids):
            marks = ",".join("?" * len(chunk))
            out.extend(
                (a, model.IdentifierKey(t, i), _dtn(f))
                for a, t, i, f in self._read(
                    f"SELECT account_id, type, id, first_seen FROM links WHERE account_id IN ({marks})", chunk
                )
            )
        return out

    def _links_of_ordered(self, account_ids: Sequence[str], limit: int) -> list[Edge]:
        out: list[Edge] = []
        for chunk in _chunks(sorted(account_ids)):  # sorted chunks in turn: one order throughout
            if len(out) >= limit:
                break
            marks = ",".join("?" * len(chunk))
            out.extend(
                (a, model.IdentifierKey(t, i), _dtn(f))
                for a, t, i, f in self._read(
                    f"SELECT account_id, type, id, first_seen FROM links WHERE account_id IN ({marks}) "
                    "ORDER BY account_id, type, id LIMIT ?",
                    (*chunk, limit - len(out)),
                )
            )
        return out

    def _identifier_accounts(
        self, keys: Sequence[model.IdentifierKey], cap: int
    ) -> tuple[dict[model.IdentifierKey, int], list[Edge]]:
        degrees: dict[model.IdentifierKey, int] = {}
        edges: list[Edge] = []
        conn = self._conn()
        for key in keys:
            degree = conn.execute(
                "SELECT count(*) FROM links WHERE type = ? AND id = ?", (key.type, key.id)
            ).fetchone()[0]
            degrees[key] = degree
            edges.extend(
                (a, key, _dtn(f))
                for a, f in conn.execute(
                    "SELECT account_id, first_seen FROM links WHERE type = ? AND id = ? "
                    "ORDER BY first_seen, account_id LIMIT ?",
                    (key.type, key.id, cap),
                )
            )
        return degrees, edges

    def _account_rows(self, account_ids: Sequence[str]) -> dict[str, model.AccountRow]:
        out: dict[str, model.AccountRow] = {}
        for chunk in _chunks(account_ids):
            marks = ",".join("?" * len(chunk))
            for row in self._read(
                f"SELECT id, created_at, attributes, label, labelled_at FROM accounts WHERE id IN ({marks})", chunk
            ):
                out[row[0]] = _account_row(row)
        return out

    def stream_accounts(self, chunk_size: int = 50_000) -> Iterator[list[model.AccountRow]]:
        after = ""
        while True:
            rows = self._read(
                "SELECT id, created_at, attributes, label, labelled_at FROM accounts WHERE id > ? ORDER BY id LIMIT ?",
                (after, chunk_size),
            )
            if not rows:
                return
            yield [_account_row(r) for r in rows]
            after = rows[-1][0]

    def stream_links(self, chunk_size: int = 200_000) -> Iterator[list[model.LinkRow]]:
        after: tuple[str, str, str] = ("", "", "")
        while True:
            rows = self._read(
                "SELECT account_id, type, id, first_seen FROM links WHERE (account_id, type, id) > (?, ?, ?) "
                "ORDER BY account_id, type, id LIMIT ?",
                (*after, chunk_size),
            )
            if not rows:
                return
            yield [model.LinkRow(a, t, i, _dtn(f)) for a, t, i, f in rows]
            after = rows[-1][:3]

    @gc_paused()
    def load_arrays(self, attributes: bool | AttributeSpec = False, chunk_size: int = 200_000) -> GraphArrays:
        # Two plain ordered scans in one read transaction (a consistent snapshot), attributes
        # extracted by SQLite's JSON functions.
        return read_arrays(self._conn(), attributes, chunk_size)

    def identifier_degrees(self, keys: Sequence[model.IdentifierKey]) -> dict[model.IdentifierKey, int]:
        degrees, _ = self._identifier_accounts(keys, 0)
        return {k: d for k, d in degrees.items() if d > 0}

    def set_benign(self, key: model.IdentifierKey, benign: bool) -> None:
        with self._write() as conn:
            if benign:
                conn.execute("INSERT OR IGNORE INTO benign(type, id) VALUES (?, ?)", (key.type, key.id))
            else:
                conn.execute("DELETE FROM benign WHERE type = ? AND id = ?", (key.type, key.id))

    def benign_identifiers(self) -> set[model.IdentifierKey]:
        return {model.IdentifierKey(t, i) for t, i in self._read("SELECT type, id FROM benign")}

    def identifier(self, key: model.IdentifierKey) -> model.IdentifierInfo | None:
        ((accounts, first, last, benign),) = self._read(
            "SELECT count(*), min(first_seen), max(last_seen), "
            "EXISTS (SELECT 1 FROM benign WHERE type = ?1 AND id = ?2) FROM links WHERE type = ?1 AND id = ?2",
            (key.type, key.id),
        )
        if not accounts:
            return None
        rings = self._read(
            "SELECT ring_id FROM ring_identifiers WHERE sweep_id = (SELECT value FROM meta WHERE key = "
            "'current_sweep') AND type = ? AND id = ? ORDER BY ring_id",
            (key.type, key.id),
        )
        return model.IdentifierInfo(key, accounts, bool(benign), _dtn(first), _dtn(last), [r for (r,) in rings])

    def identifier_accounts(
        self, key: model.IdentifierKey, cursor: str | None, limit: int
    ) -> model.Page[model.LinkedAccount]:
        cur = cursors.decode(cursor, f=(int, float), i=str)
        after = "AND (first_seen > ? OR (first_seen = ? AND account_id > ?))" if cur else ""
        rows = self._read(
            f"SELECT account_id, first_seen FROM links WHERE type = ? AND id = ? {after} "
            "ORDER BY first_seen, account_id LIMIT ?",
            (key.type, key.id, *((cur["f"], cur["f"], cur["i"]) if cur else ()), limit + 1),
        )
        data = [model.LinkedAccount(a, _dtn(f)) for a, f in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        nxt = None if last is None else cursors.encode(f=last[1], i=last[0])
        return model.Page(data, nxt)

    # -- labels ------------------------------------------------------------------------
    def add_labels(self, labels: Sequence[model.LabelIn]) -> int:
        now = utcnow()
        rows = [(x.account_id, x.label, x.source, x.note, (x.at or now).timestamp()) for x in labels]
        with self._write() as conn:
            missing = self.missing_accounts([x.account_id for x in labels])
            if missing:
                raise NotFound(f"{len(missing)} unknown account id(s)", {"account_ids": missing[:20]})
            _insert_labels(conn, rows)
        return len(rows)

    def label_history(self, account_id: str) -> list[model.LabelEvent]:
        return [
            model.LabelEvent(a, lab, s, n, _dtn(at))
            for a, lab, s, n, at in self._read(
                "SELECT account_id, label, source, note, at FROM labels WHERE account_id = ? ORDER BY at, rowid",
                (account_id,),
            )
        ]

    # -- online scores -----------------------------------------------------------------
    def write_scores(self, scores: Sequence[model.Score]) -> int:
        with self._write() as conn:
            return _write_scores(conn, scores)

    def write_score_and_read(self, score: model.Score) -> tuple[model.Account, model.RingSummary | None]:
        with self._write() as conn:
            _write_scores(conn, [score])
            account = self.get_account(score.account_id)  # the same connection: reads the write
            if account is None:  # raised inside the transaction: it rolls back
                raise NotFound(f"account {score.account_id} not found")
        return account, None if score.ring_id is None else self.ring_summary(score.ring_id)

    def pending_scores(self, requested_before: datetime, limit: int) -> list[str]:
        rows = self._read(
            "SELECT account_id FROM score_requests WHERE requested_at <= ? ORDER BY requested_at, account_id LIMIT ?",
            (requested_before.timestamp(), limit),
        )
        return [r[0] for r in rows]

    def get_score(self, account_id: str) -> model.Score | None:
        rows = self._read("SELECT * FROM scores WHERE account_id = ?", (account_id,))
        if not rows:
            return None
        a, risk, mv, scored, as_of, reasons, ring = rows[0]
        return model.Score(a, risk, mv, _dtn(scored), _dtn(as_of), json.loads(reasons), ring)

    # -- sweeps ------------------------------------------------------------------------
    def publish_sweep(self, result: model.SweepResult) -> None:
        sid = result.sweep_id
        at = result.finished_at.timestamp()
        merged = merged_rings(result)
        with self._write() as conn:
            for table in ("sweep_risks", "rings", "ring_members", "ring_identifiers"):
                conn.execute(f"DELETE FROM {table} WHERE sweep_id = ?", (sid,))  # a retried publish
            conn.execute("DELETE FROM ring_history WHERE sweep_id = ?", (sid,))
            conn.execute(
                "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?, ?)",
                (sid, result.started_at.timestamp(), at, result.model_version, json.dumps(result.stats)),
            )
            risks = iter(result.account_risks.items())
            while chunk := list(islice(risks, _RISK_CHUNK)):  # rings looked up a chunk at a time (`RingSource`)
                ring_of = result.rings.ring_of([a for a, _ in chunk])
                conn.executemany("INSERT INTO sweep_risks VALUES (?, ?, ?, ?)",
                                 ((sid, a, r, ring_of.get(a)) for a, r in chunk))
            for ring in result.rings:
                updated = at if ring.event != "unchanged" else self._last_updated(conn, ring.id, at)
                conn.execute(
                    "INSERT INTO rings VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, ring.id, ring.risk, len(ring.members), ring.created_at.timestamp(), updated),
                )
                conn.executemany("INSERT INTO ring_members VALUES (?, ?, ?)", ((sid, ring.id, m) for m in ring.members))
                conn.executemany(
                    "INSERT INTO ring_identifiers VALUES (?, ?, ?, ?, ?)",
                    ((sid, ring.id, i.type, i.id, i.accounts) for i in ring.identifiers),
                )
                conn.execute(
                    "INSERT INTO ring_history VALUES (?, ?, ?, ?, ?)", (ring.id, sid, at, ring.event, len(ring.members))
                )
            conn.executemany(
                "INSERT INTO ring_history VALUES (?, ?, ?, 'dissolved', ?)",
                ((r, sid, at, n) for r, n in result.dissolved),
            )
            _append_cases(conn, merge_writes(result, merged, _read_cases(conn, merge_involved(merged))))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('current_sweep', ?)", (sid,))
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT sweep_id FROM sweeps ORDER BY finished_at DESC LIMIT -1 OFFSET ?", (_KEEP_SWEEPS,)
                )
            ]
            for old_sid in old:
                for table in ("sweep_risks", "rings", "ring_members", "ring_identifiers", "sweeps"):
                    conn.execute(f"DELETE FROM {table} WHERE sweep_id = ?", (old_sid,))

    def publication_counts(self) -> dict[str, int]:
        """Rows of published sweeps in all kept sweeps (risks, rings, members, idents, sweeps, history),
        as `Neo4jStore.publication_counts` counts nodes: for tests of what publishing leaves behind.
        Not part of `GraphStore`, which shows the current sweep only."""
        tables = {"risks": "sweep_risks", "rings": "rings", "members": "ring_members", "idents": "ring_identifiers",
                  "sweeps": "sweeps", "history": "ring_history"}
        return {k: int(self._read(f"SELECT count(*) FROM {t}")[0][0]) for k, t in tables.items()}  # names are literals

    @staticmethod
    def _last_updated(conn: sqlite3.Connection, ring_id: str, default: float) -> float:
        row = conn.execute(
            "SELECT r.updated_at FROM rings r JOIN meta m ON m.key = 'current_sweep' AND r.sweep_id = m.value "
            "WHERE r.ring_id = ?",
            (ring_id,),
        ).fetchone()
        return row[0] if row else default

    def _current_sweep_id(self) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = 'current_sweep'")
        return rows[0][0] if rows else None

    def current_sweep(self) -> model.SweepInfo | None:
        rows = self._read(
            "SELECT s.sweep_id, s.finished_at, s.model_version, s.stats FROM sweeps s "
            "JOIN meta m ON m.key = 'current_sweep' AND m.value = s.sweep_id"
        )
        if not rows:
            return None
        sid, fin, mv, stats = rows[0]
        return model.SweepInfo(sid, _dtn(fin), mv, json.loads(stats))

    def rings_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        sid = self._current_sweep_id()
        out: dict[str, str] = {}
        for chunk in _chunks(account_ids):
            marks = ",".join("?" * len(chunk))
            out.update(
                self._read(
                    f"SELECT account_id, ring_id FROM ring_members WHERE sweep_id = ? AND account_id IN ({marks})",
                    (sid, *chunk),
                )
            )
        return out

    def current_rings(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ring_id, account_id in self._read(
            "SELECT ring_id, account_id FROM ring_members WHERE sweep_id = "
            "(SELECT value FROM meta WHERE key = 'current_sweep') ORDER BY ring_id, account_id"
        ):
            out.setdefault(ring_id, []).append(account_id)
        return out

    def ring_lineage(self, ring_ids: Sequence[str]) -> dict[str, model.RingLineage]:
        sid = self._current_sweep_id()
        rows: dict[str, tuple[float, list[str]]] = {}
        for chunk in _chunks(sorted(set(ring_ids))):
            marks = ",".join("?" * len(chunk))
            for ring_id, created, account_id in self._read(
                "SELECT g.ring_id, g.created_at, m.account_id FROM rings g JOIN ring_members m "
                f"ON m.sweep_id = g.sweep_id AND m.ring_id = g.ring_id WHERE g.sweep_id = ? AND g.ring_id IN ({marks}) "
                "ORDER BY g.ring_id, m.account_id", (sid, *chunk),
            ):
                rows.setdefault(ring_id, (created, []))[1].append(account_id)
        return {r: model.RingLineage(_dtn(at), members) for r, (at, members) in rows.items()}

    def _pinned_sweep(self, cur: dict[str, Any] | None) -> str:
        if cur is not None and "s" in cur:
            return str(cur["s"])
        return self._current_sweep_id() or ""

    def _page_query(
        self, cursor: str | None, sweep_clause: str, risk_column: str, min_risk: float | None
    ) -> tuple[dict[str, Any] | None, str, list[str], list[Any]]:
        """A list page's start: the cursor, the sweep it pins, and the WHERE clauses and parameters
        so far (the pinned sweep id first, for `sweep_clause` or a join; then the risk floor)."""
        cur = cursors.decode(cursor)
        sid = self._pinned_sweep(cur)
        where: list[str] = [sweep_clause]
        params: list[Any] = [sid]
        if min_risk is not None:
            where.append(f"{risk_column} >= ?")
            params.append(min_risk)
        return cur, sid, where, params

    def list_accounts(
        self, order: AccountOrder, min_risk: float | None, label: model.LabelValue | None, cursor: str | None,
        limit: int,
    ) -> model.Page[model.Account]:
        cur, sid, where, params = self._page_query(cursor, "1=1", "r.risk", min_risk)
        if label is not None:
            where.append("a.label = ?")
            params.append(label)
        if order == "risk_desc":
            rows = self._accounts_by_risk(cur, where, params, min_risk, limit + 1)
        else:
            if cur:
                where.append("a.id > ?")
                params.append(cur["i"])
            rows = self._read(f"{_ACCOUNT_SQL} WHERE {' AND '.join(where)} ORDER BY a.id LIMIT ?", (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        links = self._links_by_account([r[0] for r in rows])
        data = [_account(r, links.get(r[0], [])) for r in rows]
        nxt = None
        if more:
            last = rows[-1]
            nxt = cursors.encode(s=sid, r=last[4] if last[4] is not None else -1, i=last[0])
        return model.Page(data, nxt)

    def _accounts_by_risk(
        self, cur: dict[str, Any] | None, where: list[str], params: list[Any], min_risk: float | None, want: int
    ) -> list[tuple[Any, ...]]:
        """Accounts by coalesce(sweep risk, -1) DESC, id, after the cursor, as three index ranges:
        risk > -1 (the sweep's risk index), the sort key -1 (no sweep risk, by id), risk < -1;
        a range `min_risk` excludes is not read. `where[0]` is the sweep clause of `_page_query`
        (the pinned sweep is `params[0]`). The page that enters the second range scans the
        accounts by id until it finds unscored ones: once a walk, as the Neo4j store does."""
        after = _keyset(cur)
        risked = ["r.sweep_id = ?", *where[1:]]
        risk, ident = ("r.risk", 5), ("r.account_id", 1)
        rows: list[tuple[Any, ...]] = []
        if after is None or after[0] > -1:
            found = self._by_risk(_RISKED_SQL, risked, params, risk, ident, after, want)
            # Risks at or below -1 sort with or after the accounts without one: they end this range.
            # (A second bound here, risk > -1, makes SQLite sort the whole range for every page.)
            rows += takewhile(lambda row: bool(row[4] > -1), found)
        if len(rows) < want and (after is None or after[0] >= -1) and (min_risk is None or min_risk <= -1):
            after_id = [after[1]] if after is not None and after[0] == -1 else []
            cond = [*where, "(r.risk IS NULL OR r.risk = -1)", *(["a.id > ?"] if after_id else [])]
            rows += self._read(
                f"{_ACCOUNT_SQL} WHERE {' AND '.join(cond)} ORDER BY a.id LIMIT ?",
                (*params, *after_id, want - len(rows)),
            )
        if len(rows) < want and (min_risk is None or min_risk < -1):
            below = after if after is not None and after[0] < -1 else None
            bound = [] if below else ["r.risk < -1"]  # a keyset below -1 bounds the range itself
            rows += self._by_risk(_RISKED_SQL, [*risked, *bound], params, risk, ident, below, want - len(rows))
        return rows

    def _by_risk(
        self, select: str, where: list[str], params: list[Any], risk: tuple[str, int], ident: tuple[str, int],
        after: tuple[float, str] | None, want: int,
    ) -> list[tuple[Any, ...]]:
        """`select`'s rows riskiest first, ties by id, after the keyset `after` = (risk, id).
        `risk` and `ident` name a column and its position in `select`, which an index orders as
        (..., risk DESC, id). With a keyset the page is two index seeks (the rest of the tie, then
        the lower risks), so a page costs its own rows wherever it starts: one range with an OR
        scanned every row of the tie before it (quadratic paging through 14k tied rings at 4M)."""
        base = f"{select} WHERE {' AND '.join(where)}"
        if after is None:
            return self._read(f"{base} ORDER BY {risk[0]} DESC, {ident[0]} LIMIT ?", (*params, want))
        return self._read(
            f"SELECT * FROM ({base} AND {risk[0]} = ? AND {ident[0]} > ? ORDER BY {ident[0]} LIMIT ?) UNION ALL "
            f"SELECT * FROM ({base} AND {risk[0]} < ? ORDER BY {risk[0]} DESC, {ident[0]} LIMIT ?) "
            f"ORDER BY {risk[1]} DESC, {ident[1]} LIMIT ?",
            (*params, after[0], after[1], want, *params, after[0], want, want),
        )

    def _links_by_account(self, account_ids: Sequence[str]) -> dict[str, list[model.StoredLink]]:
        out: dict[str, list[model.StoredLink]] = {}
        for chunk in _chunks(account_ids):
            marks = ",".join("?" * len(chunk))
            for a, t, i, f, la in self._read(
                f"SELECT account_id, type, id, first_seen, last_seen FROM links WHERE account_id IN ({marks}) "
                "ORDER BY account_id, type, id",
                chunk,
            ):
                out.setdefault(a, []).append(model.StoredLink(t, i, _dtn(f), _dtn(la)))
        return out

    def list_rings(
        self, min_risk: float | None, cursor: str | None, limit: int,
        case_status: model.CaseFilter | None = None, assignee: str | None = None,
    ) -> model.Page[model.RingSummary]:
        cur, sid, where, params = self._page_query(cursor, "g.sweep_id = ?", "g.risk", min_risk)
        if case_status == "none":
            where.append("c.ring_id IS NULL")
        elif case_status is not None:
            where.append("c.status = ?")
            params.append(case_status)
        if assignee is not None:
            where.append("c.assignee = ?")
            params.append(assignee)
        rows = self._by_risk(_RING_LIST_SQL, where, params, ("g.risk", 2), ("g.ring_id", 1), _keyset(cur), limit + 1)
        more = len(rows) > limit
        data = [_summary(r) for r in rows[:limit]]
        nxt = cursors.encode(s=sid, r=data[-1].risk, i=data[-1].id) if more else None
        return model.Page(data, nxt)

    def ring_summary(self, ring_id: str) -> model.RingSummary | None:
        rows = self._read(
            f"{_SUMMARY_SQL} WHERE g.sweep_id = (SELECT value FROM meta WHERE key = 'current_sweep') "
            "AND g.ring_id = ?",
            (ring_id,),
        )
        return _summary(rows[0]) if rows else None

    def get_ring(self, ring_id: str) -> model.Ring | None:
        sid = self._current_sweep_id()
        rows = self._read(f"{_SUMMARY_SQL} WHERE g.sweep_id = ? AND g.ring_id = ?", (sid, ring_id))
        if not rows:
            return None
        members = [
            model.RingMember(a, risk if risk is not None else 0.0, lab)
            for a, risk, lab in self._read(
                "SELECT m.account_id, r.risk, a.label FROM ring_members m "
                "LEFT JOIN sweep_risks r ON r.sweep_id = m.sweep_id AND r.account_id = m.account_id "
                "LEFT JOIN accounts a ON a.id = m.account_id WHERE m.sweep_id = ? AND m.ring_id = ? "
                "ORDER BY r.risk DESC, m.account_id",
                (sid, ring_id),
            )
        ]
        identifiers = [
            model.RingIdentifier(t, i, n)
            for t, i, n in self._read(
                "SELECT type, id, accounts FROM ring_identifiers WHERE sweep_id = ? AND ring_id = ? "
                "ORDER BY accounts DESC, type, id",
                (sid, ring_id),
            )
        ]
        history = [
            model.RingHistoryEntry(s, _dtn(at), ev, n)
            for s, at, ev, n in self._read(
                "SELECT sweep_id, at, event, size FROM ring_history WHERE ring_id = ? ORDER BY at, sweep_id", (ring_id,)
            )
        ]
        return model.Ring(_summary(rows[0]), members, identifiers, history, self.get_case(ring_id))

    # -- cases -------------------------------------------------------------------------
    def put_case(
        self, ring_id: str, status: model.CaseStatus, assignee: str | None, note: str | None, key_id: str,
        label_members: bool = False, keep_assignee: bool = False,
    ) -> model.Case:
        now = utcnow()
        with self._write() as conn:
            members = [r[0] for r in conn.execute(
                "SELECT account_id FROM ring_members WHERE sweep_id = (SELECT value FROM meta WHERE key = "
                "'current_sweep') AND ring_id = ? ORDER BY account_id", (ring_id,))]
            if not members:  # raised inside the transaction: it rolls back
                raise NotFound(f"ring {ring_id} not found")
            current = _read_cases(conn, [ring_id]).get(ring_id)
            _append_cases(conn, [case_move(current, ring_id, status, assignee, keep_assignee, note, key_id, now)])
            if status == "confirmed_fraud" and label_members:
                _insert_labels(conn, [(x.account_id, x.label, x.source, x.note, now.timestamp())
                                      for x in fraud_labels(ring_id, members, note, now)])
            return _read_cases(conn, [ring_id])[ring_id]

    def get_case(self, ring_id: str) -> model.Case | None:
        return _read_cases(self._conn(), [ring_id]).get(ring_id)

    # -- jobs and locks ----------------------------------------------------------------
    def create_job(self, kind: model.JobKind, params: dict[str, object] | None = None) -> model.Job:
        job = model.Job(uuid.uuid4().hex, kind, "queued", utcnow(), params=dict(params or {}))
        with self._write() as conn:
            conn.execute(
                "INSERT INTO jobs(id, kind, status, created_at, params) VALUES (?, ?, ?, ?, ?)",
                (job.id, kind, "queued", job.created_at.timestamp(), json.dumps(job.params)),
            )
        return job

    def update_job(
        self, job_id: str, status: str, result: dict[str, object] | None = None, error: str | None = None
    ) -> model.Job:
        now = utcnow().timestamp()
        with self._write() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, "
                "started_at = CASE WHEN ? = 'running' THEN coalesce(started_at, ?) ELSE started_at END, "
                "finished_at = CASE WHEN ? IN ('succeeded', 'failed') THEN ? ELSE finished_at END, "
                "result = coalesce(?, result), error = ? WHERE id = ?",
                (status, status, now, status, now, None if result is None else json.dumps(result), error, job_id),
            )
        job = self.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def count_jobs(self) -> dict[tuple[str, str], int]:
        rows = self._read("SELECT kind, status, count(*) FROM jobs GROUP BY kind, status")
        return {(kind, status): n for kind, status, n in rows}

    def job_ids(self, status: str, limit: int = 100) -> list[str]:
        rows = self._read("SELECT id FROM jobs WHERE status = ? ORDER BY created_at LIMIT ?", (status, limit))
        return [r[0] for r in rows]

    def get_job(self, job_id: str) -> model.Job | None:
        rows = self._read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            return None
        i, kind, status, created, started, finished, result, error, params = rows[0]
        return model.Job(
            i,
            kind,
            status,
            _dtn(created),
            _dt(started),
            _dt(finished),
            json.loads(result) if result else None,
            error,
            json.loads(params),
        )

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: datetime | None = None) -> bool:
        t = (now or utcnow()).timestamp()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO locks VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE locks.expires_at < ? OR locks.owner = excluded.owner",
                (name, owner, t + ttl_s, t),
            )
            row = conn.execute("SELECT owner FROM locks WHERE name = ?", (name,)).fetchone()
        return bool(row and row[0] == owner)

    def release_lock(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))


_ACCOUNT_COLUMNS = (
    "SELECT a.id, a.created_at, a.attributes, a.label, r.risk, r.ring_id, s.risk, s.scored_at, "
    "s.model_version, sw.finished_at, sw.model_version "
)
# Every account, its risk in the pinned sweep (the first parameter) if it has one.
_ACCOUNT_SQL = (
    f"{_ACCOUNT_COLUMNS}FROM accounts a LEFT JOIN sweep_risks r ON r.account_id = a.id AND r.sweep_id = ? "
    "LEFT JOIN sweeps sw ON sw.sweep_id = r.sweep_id LEFT JOIN scores s ON s.account_id = a.id"
)
# The accounts with a risk, read from the sweep's risk index: INDEXED BY, or the planner seeks a
# tie's rest by the primary key and filters every later account; CROSS JOIN keeps the order.
_RISKED_SQL = (
    f"{_ACCOUNT_COLUMNS}FROM sweep_risks r INDEXED BY sweep_risks_order CROSS JOIN accounts a ON a.id = r.account_id "
    "LEFT JOIN sweeps sw ON sw.sweep_id = r.sweep_id LEFT JOIN scores s ON s.account_id = a.id"
)
_SUMMARY_COLUMNS = "SELECT g.ring_id, g.risk, g.size, g.created_at, g.updated_at, g.sweep_id, c.status, c.assignee "
_SUMMARY_SQL = f"{_SUMMARY_COLUMNS}FROM rings g LEFT JOIN cases c ON c.ring_id = g.ring_id"
# The list's pages from the (sweep, risk, id) index (see `_RISKED_SQL`).
_RING_LIST_SQL = f"{_SUMMARY_COLUMNS}FROM rings g INDEXED BY rings_order LEFT JOIN cases c ON c.ring_id = g.ring_id"


def _keyset(cur: dict[str, Any] | None) -> tuple[float, str] | None:
    """A risk-ordered cursor's position: (risk, id) of the last item it returned."""
    return (float(cur["r"]), str(cur["i"])) if cur else None


def _summary(r: tuple[Any, ...]) -> model.RingSummary:
    return model.RingSummary(r[0], r[1], r[2], _dtn(r[3]), _dtn(r[4]), r[5], r[6], r[7])


def _account_row(row: tuple[Any, ...]) -> model.AccountRow:
    i, created, attrs, label, labelled = row
    return model.AccountRow(i, _dtn(created), load_attributes(attrs), label, _dt(labelled))


def _account(row: tuple[Any, ...], links: list[model.StoredLink]) -> model.Account:
    """Sweep risk when the current sweep covers the account, else its latest online score."""
    i, created, attrs, label, sweep_risk, ring_id, risk, scored_at, mv, sweep_at, sweep_mv = row
    if sweep_risk is not None:
        risk, scored_at, mv = sweep_risk, sweep_at, sweep_mv
    return model.Account(i, _dtn(created), load_attributes(attrs), links, label, risk, _dt(scored_at), mv, ring_id)


def _insert_labels(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str, str | None, float]]) -> None:
    """Label events (account, label, source, note, at) and current labels, in the caller's transaction."""
    conn.executemany("INSERT OR IGNORE INTO labels(account_id, label, source, note, at) VALUES (?, ?, ?, ?, ?)", rows)
    # The current label is the latest event; later-dated events already stored win.
    conn.executemany(
        "UPDATE accounts SET label = ?, labelled_at = ? WHERE id = ? AND (labelled_at IS NULL OR labelled_at <= ?)",
        [(r[1], r[4], r[0], r[4]) for r in rows],
    )


def _append_cases(conn: sqlite3.Connection, writes: Sequence[model.CaseWrite]) -> None:
    """Set each case's state (creating it) and append its history entry (history is in write order,
    `updated_at` the latest entry time), in the caller's transaction."""
    for w in writes:
        at = w.at.timestamp()
        conn.execute(
            "INSERT INTO cases VALUES (?, ?, ?, ?) ON CONFLICT(ring_id) DO UPDATE SET status = excluded.status, "
            "assignee = excluded.assignee, updated_at = max(updated_at, excluded.updated_at)",
            (w.ring_id, w.status, w.assignee, at),
        )
        conn.execute("INSERT INTO case_history VALUES (?, ?, ?, ?, ?, ?)",
                     (w.ring_id, at, w.status, w.assignee, w.note, w.key_id))


def _read_cases(conn: sqlite3.Connection, ring_ids: Sequence[str]) -> dict[str, model.Case]:
    out: dict[str, model.Case] = {}
    for chunk in _chunks(list(ring_ids)):
        marks = ",".join("?" * len(chunk))
        history: dict[str, list[model.CaseEntry]] = {}
        for rid, at, st, who, note, key in conn.execute(
            f"SELECT ring_id, at, status, assignee, note, key_id FROM case_history WHERE ring_id IN ({marks}) "
            "ORDER BY rowid", chunk,
        ):
            history.setdefault(rid, []).append(model.CaseEntry(_dtn(at), st, who, note, key))
        for rid, st, who, updated in conn.execute(
            f"SELECT ring_id, status, assignee, updated_at FROM cases WHERE ring_id IN ({marks})", chunk
        ):
            out[rid] = model.Case(rid, st, who, _dtn(updated), history.get(rid, []))
    return out


def _write_scores(conn: sqlite3.Connection, scores: Sequence[model.Score]) -> int:
    """`write_scores` inside the caller's write transaction."""
    rows = [
        (s.account_id, s.risk, s.model_version, s.scored_at.timestamp(), s.as_of.timestamp(), json.dumps(s.reasons),
         s.ring_id)
        for s in scores
    ]
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET "
        "risk = excluded.risk, model_version = excluded.model_version, scored_at = excluded.scored_at, "
        "as_of = excluded.as_of, reasons = excluded.reasons, ring_id = excluded.ring_id "
        "WHERE excluded.as_of >= scores.as_of",
        rows,
    )
    written = conn.total_changes - before
    conn.executemany(
        "DELETE FROM score_requests WHERE account_id = ? AND requested_at <= ?",
        [(s.account_id, s.as_of.timestamp()) for s in scores],
    )
    return written
