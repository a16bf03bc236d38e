"""The Neo4j graph store: the same contract as `sqlite_store`, over the official driver.

Schema (constraints and indexes: `cypher/migrate_*.cypher`; the typed part and its fixed
label table: `graph/neo4j_typed.py`; the model as users see it: `docs/neo4j.md`):
    (:Account {id, created_at, attributes (JSON), label, labelled_at, <attribute properties>})
        -[:HAS_CARD | USES_DEVICE | PAYS_OUT_TO {first_seen, last_seen}]->
        (:Identifier:Card | :Identifier:Device | :Identifier:BankAccount {key: "type|id", type, id})
    (:Account)-[:MEMBER_OF]->(:Ring {id, risk, size, sweep_id, ...}): the current sweep's rings,
        a view rebuilt after each publication for Browser and Bloom; the store reads SweepRing.
Queries that need every link match `(:Account)-[l]->(:Identifier)`: an identifier's only
relationships are links. `upgrade_typed` converts a database of the old `[:LINK]` model.
    (:Benign {key, type, id})               (:LabelEvent {key, account_id, label, source, note, at, seq})
    (:Score {account_id, risk, model_version, scored_at, as_of, reasons (JSON), ring_id})
    (:Sweep {sweep_id, gen, started_at, finished_at, model_version, stats (JSON)})
    (:SweepRisk {gen, account_id, risk, ring_id})   (:SweepRing {gen, ring_id, sweep_id, risk, size, ...})
    (:RingMember {gen, ring_id, account_id})         (:RingIdent {gen, ring_id, type, id, accounts})
    (:RingHistory {ring_id, sweep_id, at, event, size})
    (:Case {ring_id, status, assignee, updated_at, seq})
    (:CaseEntry {ring_id, seq, at, status, assignee, note, key_id})
    (:Meta {key: 'current_sweep' | 'label_seq', value})   (:Publication {gen, sweep_id, garbage})
    (:Job {...})   (:Lock {name, owner, expires_at})
Times are UTC epoch seconds (floats), as in SQLite, so both backends round identically.

A sweep's rows are written under a fresh generation id `gen`, in as many transactions as
they need; one last small transaction points the Sweep node at that generation and flips
the current-sweep pointer. Readers resolve sweep -> gen first, so they see one complete
publication; a republished sweep id swaps generations at the flip, and rows that no Sweep
node points at any more are listed as `Publication` nodes and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import neo4j
from neo4j import GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConnectionAcquisitionTimeoutError,
    IncompleteCommit,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from ringfence.core.clock import utcnow
from ringfence.core.errors import NotFound, StoreUnavailable
from ringfence.graph import cursor as cursors
from ringfence.graph import model
from ringfence.graph.arrays import AttributeSpec, GraphArrays, gc_paused
from ringfence.graph.cases import case_move, fraud_labels, merge_involved, merge_writes, merged_rings
from ringfence.graph.neighbourhood import Edge, expand, expand_bounded
from ringfence.graph.neo4j_arrays import arrays_from_pages
from ringfence.graph.neo4j_queries import (
    account_row,
    dt,
    dtn,
    history_batches,
    identifier_key,
    key_of,
    merge_attributes,
    migrations,
    neighbourhood_of,
    prepare_labels,
    prepare_upsert,
    query,
    ring_batches,
    risk_batches,
    score_rows,
    ts,
)
from ringfence.graph.neo4j_shards import Neo4jShards
from ringfence.graph.neo4j_typed import TYPE_ORDER, TYPED_MODEL, attribute_properties
from ringfence.graph.store import AccountOrder
from ringfence.graph.stored_json import encode_attributes, load_attributes

T = TypeVar("T")
log = logging.getLogger(__name__)
_KEEP_SWEEPS = 3  # current, previous, and one more for cursors pinned during a flip
_PUBLISH_CHUNK = 20_000  # rows per transaction when publishing a sweep
DELETE_CHUNK = 10_000  # nodes per transaction when deleting
UPGRADE_CHUNK = 5_000  # accounts per transaction when upgrading to the typed model
TYPED_MODEL_VERSION = "typed-1"
_INF = math.inf
# Driver errors that mean "the store did not answer" (IncompleteCommit, a ServiceUnavailable,
# is retried once first; TransientError arrives only after the driver's own retries ran out).
_UNAVAILABLE = (ServiceUnavailable, SessionExpired, TransientError, ConnectionAcquisitionTimeoutError, OSError)
GENERATION_DELETES = ("delete_sweep_risks", "delete_sweep_rings", "delete_ring_members", "delete_ring_idents")


@dataclass(frozen=True)
class Neo4jConfig:
    """Where the Neo4j 5 store lives and how long it waits for it.

    `retry_time_s`: how long the driver retries a transaction that meets an unavailable server
    before the caller sees `StoreUnavailable`; `connect_timeout_s`: per connection attempt.
    """

    uri: str  # scheme://host:port, without credentials
    user: str = "neo4j"
    password: str = field(default="", repr=False)
    database: str = "neo4j"
    retry_time_s: float = 5.0
    connect_timeout_s: float = 3.0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Neo4jConfig:
        """From a `neo4j://user:password@host:port` (or bolt) URL; `options` set the other fields."""
        parts = urlsplit(url)
        return cls(f"{parts.scheme}://{parts.hostname}:{parts.port or 7687}", unquote(parts.username or "neo4j"),
                   unquote(parts.password or ""), **options)


def open_driver(config: Neo4jConfig) -> neo4j.Driver:
    """The driver a `Neo4jStore` of `config` opens for itself."""
    return GraphDatabase.driver(
        config.uri,
        auth=(config.user, config.password),
        max_transaction_retry_time=config.retry_time_s,
        connection_timeout=config.connect_timeout_s,
        connection_acquisition_timeout=max(config.connect_timeout_s * 2, 10.0),
        notifications_min_severity="OFF",
        warn_notification_severity="OFF",
    )


class Neo4jStore(Neo4jShards):
    backend = "neo4j"

    def __init__(self, config: Neo4jConfig, *, driver: neo4j.Driver | None = None) -> None:
        """`driver`: one already open for `config` (tests wrap one to inject driver failures);
        the store closes it. By default the store opens its own (`open_driver`)."""
        self.config = config
        self._database = config.database
        self._driver = driver if driver is not None else open_driver(config)

    # -- transactions: the one place driver errors become StoreUnavailable -------------
    def _run(self, write: bool, work: Callable[[ManagedTransaction], T]) -> T:
        attempts = 2
        for attempt in range(attempts):
            try:
                with self._driver.session(database=self._database) as session:
                    if write:
                        return session.execute_write(work)
                    return session.execute_read(work)
            except IncompleteCommit as exc:
                # The connection died during COMMIT: it may or may not have applied. Every write
                # here is idempotent (upserts merge with min/max, label events and publication rows
                # MERGE on their keys, scores compare as_of, jobs MERGE on their id, locks are
                # re-entrant for their owner), so running it once more is safe.
                if attempt + 1 == attempts:
                    raise StoreUnavailable("Neo4j lost the connection while committing") from exc
            except AuthError as exc:
                raise StoreUnavailable("Neo4j rejected the credentials") from exc
            except _UNAVAILABLE as exc:
                raise StoreUnavailable(f"Neo4j at {self.config.uri} is unavailable") from exc
        raise AssertionError("unreachable")

    def _read(self, name: str, /, **params: Any) -> list[neo4j.Record]:
        return self._run(False, lambda tx: list(tx.run(query(name), params)))

    def _write(self, name: str, /, **params: Any) -> list[neo4j.Record]:
        return self._run(True, lambda tx: list(tx.run(query(name), params)))

    def _auto(self, name: str, /, **params: Any) -> None:
        """Runs a statement that commits its own batches (`CALL { } IN TRANSACTIONS`), which only
        an auto-commit transaction may run. Every such statement here is idempotent."""
        try:
            with self._driver.session(database=self._database) as session:
                session.run(query(name), params).consume()
        except AuthError as exc:
            raise StoreUnavailable("Neo4j rejected the credentials") from exc
        except (*_UNAVAILABLE, IncompleteCommit) as exc:
            raise StoreUnavailable(f"Neo4j at {self.config.uri} is unavailable") from exc

    # -- lifecycle ---------------------------------------------------------------------
    def migrate(self) -> None:
        for name in migrations():  # schema statements each need their own transaction
            try:
                self._write(name)
            except ClientError as exc:
                # IF NOT EXISTS still races when two processes migrate at once; the loser is told
                # the rule exists, which is the state it wanted.
                if not (exc.code or "").endswith("AlreadyExists"):
                    raise
        self._read("await_indexes", timeout_s=300)
        self.upgrade_typed()

    def upgrade_typed(self) -> bool:
        """Upgrades, in place, a database written before the typed model (`graph/neo4j_typed.py`):
        typed identifier labels, typed relationships for `:LINK`, attribute properties, the
        `:Ring` view; in batches of 5,000, idempotent (a run cut off anywhere is finished by the
        next). Writes a marker at the end and is a single read once it is there. True if it ran."""
        if self._read("upgrade_typed_marker")[0]["value"] == TYPED_MODEL_VERSION:
            return False
        self._auto("upgrade_typed_identifiers")
        self._auto("upgrade_typed_links")

        def page(tx: ManagedTransaction, after: str) -> str | None:
            found = list(tx.run(query("upgrade_typed_attributes_page"), after=after, limit=UPGRADE_CHUNK))
            rows = [{"id": r["id"], "props": attribute_properties(json.loads(r["attributes"] or "{}"))}
                    for r in found]
            tx.run(query("upgrade_typed_attributes_write"), rows=rows).consume()
            return max((r["id"] for r in found), default=None)

        after: str | None = ""
        while after is not None:
            after = self._run(True, partial(page, after=after))
        self._rebuild_ring_view()
        self._write("upgrade_typed_done", value=TYPED_MODEL_VERSION)
        return True

    def holds_data(self) -> bool:
        """Whether the database holds any node but the store's markers: `ringfence load --bulk`
        overwrites the database and refuses one that does."""
        return bool(self._read("count_data_nodes")[0]["n"])

    def finish_bulk_import(self, properties: Sequence[dict[str, Any]]) -> None:
        """After `neo4j-admin database import` of `graph/neo4j_bulk.py`'s files, which wrote the
        typed model and its marker: the constraints and indexes, then attribute `properties`
        ({id, props}) the import's typed columns could not hold."""
        self.migrate()
        for i in range(0, len(properties), UPGRADE_CHUNK):
            self._write("bulk_properties", rows=list(properties[i : i + UPGRADE_CHUNK]))

    def _rebuild_ring_view(self) -> None:
        """(:Account)-[:MEMBER_OF]->(:Ring) as the current sweep has them. A view for people
        browsing the graph, rebuilt after the flip: the store's own reads never use it."""
        for name in ("ring_view_clear", "ring_view_rings", "ring_view_members"):
            self._auto(name)

    def ping(self) -> None:
        self._read("ping")

    def close(self) -> None:
        self._driver.close()

    def reset(self) -> None:
        while self._write("reset_batch", limit=DELETE_CHUNK)[0]["deleted"]:
            pass

    # -- accounts and links ------------------------------------------------------------
    def upsert_accounts(self, accounts: Sequence[model.AccountIn], request_scores: bool = False) -> tuple[int, int]:
        upsert, link_count = _upsert_work(accounts)
        if accounts:  # the whole batch is one transaction: all or nothing
            self._run(True, lambda tx: upsert(tx, ts(utcnow()) if request_scores else None))
        return len(accounts), link_count

    def upsert_and_neighbourhood(
        self, accounts: Sequence[model.AccountIn], hops: int, hub_cap: int
    ) -> tuple[model.Subgraph, datetime]:
        upsert, _ = _upsert_work(accounts)
        seeds = [a.id for a in accounts]

        def work(tx: ManagedTransaction) -> tuple[model.Subgraph, datetime]:
            # Read in the write's own transaction (an online score saves a commit and a round
            # trip), after the request time: the subgraph is at least as new as the as_of.
            as_of = utcnow()
            upsert(tx, ts(as_of))
            return _neighbourhood(tx, seeds, hops, hub_cap), as_of

        return self._run(True, work)

    def get_account(self, account_id: str) -> model.Account | None:
        found = self._accounts([account_id], None)
        return found[0] if found else None

    def get_accounts(self, account_ids: Sequence[str]) -> list[model.Account]:
        return self._accounts(list(dict.fromkeys(account_ids)), None)

    def _accounts(self, account_ids: Sequence[str], sweep_id: str | None) -> list[model.Account]:
        return [_account(r) for r in self._read("account_view", ids=list(account_ids), sweep_id=sweep_id)]

    def missing_accounts(self, account_ids: Sequence[str]) -> list[str]:
        found = {r["id"] for r in self._read("missing_accounts", ids=list(dict.fromkeys(account_ids)))}
        return [a for a in account_ids if a not in found]

    def count_accounts(self) -> int:
        return int(self._read("count_accounts")[0]["n"])

    def neighbourhood(
        self, seeds: Sequence[str], hops: int, hub_cap: int, max_nodes: int | None = None,
        max_edges: int | None = None,
    ) -> model.Subgraph:
        if max_nodes is None or max_edges is None:
            return self._run(False, lambda tx: _neighbourhood(tx, seeds, hops, hub_cap))
        nodes, edges = max_nodes, max_edges

        def bounded(tx: ManagedTransaction) -> model.Subgraph:
            # A handful of short reads in one transaction: each is limited to what the budget can
            # still take, where the one-statement read would fetch every account of every hub.
            sub = expand_bounded(_Expansion(tx), seeds, hops, hub_cap, nodes, edges)
            if sub.accounts:
                sub.rings = {r["id"]: r["ring_id"] for r in tx.run(query("rings_of"), ids=list(sub.accounts))}
            return sub

        return self._run(False, bounded)

    def get_risks(self, account_ids: Sequence[str]) -> dict[str, float | None]:
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return {}
        return dict(self._read("account_risks", ids=ids)[0]["rows"])

    def stream_accounts(self, chunk_size: int = 50_000) -> Iterator[list[model.AccountRow]]:
        for rows in self._id_pages("stream_accounts", chunk_size):
            yield [account_row(r) for r in rows]

    def stream_links(self, chunk_size: int = 200_000) -> Iterator[list[model.LinkRow]]:
        after = ("", "", "")
        while True:
            rows = self._read("stream_links", account_id=after[0], type=after[1], id=after[2], limit=chunk_size)
            rows = rows[0]["rows"]
            if not rows:
                return
            yield [model.LinkRow(a, t, i, dtn(f)) for a, t, i, f in rows]
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    @gc_paused()
    def load_arrays(self, attributes: bool | AttributeSpec = False, chunk_size: int = 200_000) -> GraphArrays:
        # Accounts with their links in one pass over the driver's raw rows (epoch floats, attribute
        # JSON text: no datetime or dict per account); pages of at most 50,000 accounts keep each
        # read transaction short.
        benign = self.benign_identifiers()
        return arrays_from_pages(self._id_pages("stream_graph", min(chunk_size, 50_000)), benign, attributes)

    def _id_pages(self, name: str, chunk_size: int) -> Iterator[list[list[Any]]]:
        """The rows of the keyset query `name` (accounts after `$after` by id, at most `$limit`, as
        lists starting with the id), one read per page: `stream_accounts`, or `stream_graph`, whose
        rows end with the account's links as [type, id, first_seen] lists."""
        after = ""
        while True:
            rows = self._read(name, after=after, limit=chunk_size)[0]["rows"]
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def identifier_degrees(self, keys: Sequence[model.IdentifierKey]) -> dict[model.IdentifierKey, int]:
        by_key = {key_of(k): k for k in keys}
        if not by_key:
            return {}
        rows = self._read("identifier_degrees", keys=list(by_key))
        return {by_key[r["key"]]: int(r["degree"]) for r in rows if r["degree"] > 0}

    def set_benign(self, key: model.IdentifierKey, benign: bool) -> None:
        if benign:
            self._write("set_benign", key=key_of(key), type=key.type, id=key.id)
        else:
            self._write("unset_benign", key=key_of(key))

    def benign_identifiers(self) -> set[model.IdentifierKey]:
        return {model.IdentifierKey(r["type"], r["id"]) for r in self._read("benign_identifiers")}

    def identifier(self, key: model.IdentifierKey) -> model.IdentifierInfo | None:
        rows = self._read("identifier_info", key=identifier_key(key.type, key.id), type=key.type, id=key.id)
        if not rows or not rows[0]["accounts"]:
            return None
        r = rows[0]
        return model.IdentifierInfo(key, r["accounts"], r["benign"], dtn(r["first_seen"]), dtn(r["last_seen"]),
                                    list(r["ring_ids"]))

    def identifier_accounts(
        self, key: model.IdentifierKey, cursor: str | None, limit: int
    ) -> model.Page[model.LinkedAccount]:
        cur = cursors.decode(cursor, f=(int, float), i=str)
        rows = self._read("identifier_page", key=identifier_key(key.type, key.id), limit=limit + 1,
                          after_f=cur["f"] if cur else None, after_i=cur["i"] if cur else None)
        data = [model.LinkedAccount(r["account_id"], dtn(r["first_seen"])) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        nxt = None if last is None else cursors.encode(f=last["first_seen"], i=last["account_id"])
        return model.Page(data, nxt)

    # -- labels ------------------------------------------------------------------------
    def add_labels(self, labels: Sequence[model.LabelIn]) -> int:
        events, current = prepare_labels(labels, utcnow())
        ids = [x.account_id for x in labels]

        def work(tx: ManagedTransaction) -> None:
            found = {r["id"] for r in tx.run(query("missing_accounts"), ids=list(dict.fromkeys(ids)))}
            missing = [a for a in ids if a not in found]
            if missing:  # raised inside the transaction function: it rolls back, nothing written
                raise NotFound(f"{len(missing)} unknown account id(s)", {"account_ids": missing[:20]})
            _write_labels(tx, events, current)

        if labels:
            self._run(True, work)
        return len(labels)

    def label_history(self, account_id: str) -> list[model.LabelEvent]:
        return [
            model.LabelEvent(r["account_id"], r["label"], r["source"], r["note"], dtn(r["at"]))
            for r in self._read("label_history", account_id=account_id)
        ]

    # -- online scores -----------------------------------------------------------------
    def write_scores(self, scores: Sequence[model.Score]) -> int:
        if not scores:
            return 0
        return int(self._write("write_scores", rows=score_rows(scores))[0]["written"])

    def write_score_and_read(self, score: model.Score) -> tuple[model.Account, model.RingSummary | None]:
        def work(tx: ManagedTransaction) -> tuple[model.Account, model.RingSummary | None]:
            # One transaction for what the API answers after an online score: a commit and two
            # round trips less than write_scores, get_account and ring_summary one by one.
            tx.run(query("write_scores"), rows=score_rows([score])).consume()
            found = list(tx.run(query("account_view"), ids=[score.account_id], sweep_id=None))
            if not found:  # raised inside the transaction function: it rolls back, nothing written
                raise NotFound(f"account {score.account_id} not found")
            ring = None
            if score.ring_id is not None:
                rings = list(tx.run(query("ring_summary"), ring_id=score.ring_id))
                ring = _summary(rings[0]) if rings else None
            return _account(found[0]), ring

        return self._run(True, work)

    def pending_scores(self, requested_before: datetime, limit: int) -> list[str]:
        return [r["id"] for r in self._read("pending_scores", before=ts(requested_before), limit=limit)]

    def get_score(self, account_id: str) -> model.Score | None:
        rows = self._read("get_score", account_id=account_id)
        if not rows:
            return None
        r = rows[0]
        return model.Score(r["account_id"], r["risk"], r["model_version"], dtn(r["scored_at"]), dtn(r["as_of"]),
                     json.loads(r["reasons"]), r["ring_id"])

    # -- sweeps ------------------------------------------------------------------------
    def publish_sweep(self, result: model.SweepResult) -> None:
        sid, at, gen = result.sweep_id, ts(result.finished_at), uuid.uuid4().hex
        self._collect_garbage(sid)  # a retried publish: drop the partial rows of the failed attempt
        self._write("publication_start", gen=gen, sweep_id=sid)
        # An unchanged ring keeps the updated_at it has in the current sweep (unless that is
        # this very sweep id, whose old rows a republish replaces).
        current = self._resolve(None)

        def previous_updated(ids: list[str]) -> dict[str, float]:
            if current["gen"] is None or current["sid"] == sid:
                return {}
            return {r["id"]: r["updated_at"] for r in self._read("ring_updated_at", gen=current["gen"], ids=ids)}

        merged = merged_rings(result)
        try:
            for rows in risk_batches(result, _PUBLISH_CHUNK):
                self._write("publish_risks", gen=gen, rows=rows)
            for rings in ring_batches(result, previous_updated, _PUBLISH_CHUNK):
                self._write("publish_rings", gen=gen, sweep_id=sid, rings=rings)
        except BaseException:
            # Nobody reads this generation yet: drop its partial rows now, or (server gone) let the
            # next publication of this sweep id drop them.
            with contextlib.suppress(StoreUnavailable):
                self._collect_garbage(sid)
            raise
        sweep = {"sweep_id": sid, "gen": gen, "started_at": ts(result.started_at), "finished_at": at,
                 "model_version": result.model_version, "stats": json.dumps(result.stats)}

        def flip(tx: ManagedTransaction) -> None:
            # Everything readers see changes here, at once: the ring history of this sweep, the
            # sweep's generation, the current-sweep pointer, and which sweeps are kept.
            tx.run(query("delete_sweep_history"), sweep_id=sid).consume()
            for rows in history_batches(result, _PUBLISH_CHUNK):
                tx.run(query("publish_history"), rows=rows, sweep_id=sid, at=at).consume()
            _append_cases(tx, merge_writes(result, merged, _read_cases(tx, merge_involved(merged))))
            old_gen = tx.run(query("publish_sweep_node"), sweep).single(strict=True)["old_gen"]
            tx.run(query("set_current_sweep"), sweep_id=sid).consume()
            tx.run(query("publication_delete"), gen=gen).consume()
            if old_gen is not None and old_gen != gen:
                tx.run(query("publication_mark_garbage"), gen=old_gen, sweep_id=sid).consume()
            tx.run(query("prune_sweeps"), keep=_KEEP_SWEEPS).consume()

        self._run(True, flip)
        try:
            self._rebuild_ring_view()
            self._collect_garbage(None)
        except StoreUnavailable:  # published already; the next publish collects what is left
            log.warning("sweep %s published; the :Ring view or deleting superseded rows failed, the next publish"
                        " redoes it", sid, exc_info=True)

    def _collect_garbage(self, sweep_id: str | None) -> None:
        """Delete the rows of unreachable generations (and, given a sweep id, of its failed
        earlier publications), chunk by chunk, then forget the generation."""
        for rec in self._read("stale_publications", sweep_id=sweep_id):
            gen = rec["gen"]
            for name in GENERATION_DELETES:
                while self._write(name, gen=gen, limit=DELETE_CHUNK)[0]["deleted"]:
                    pass
            self._write("publication_delete", gen=gen)

    def _resolve(self, sweep_id: str | None) -> neo4j.Record:
        return self._read("sweep_resolve", sweep_id=sweep_id)[0]

    def current_sweep(self) -> model.SweepInfo | None:
        r = self._resolve(None)
        if r["gen"] is None:
            return None
        return model.SweepInfo(r["sid"], dtn(r["finished_at"]), r["model_version"], json.loads(r["stats"]))

    def rings_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        if not account_ids:
            return {}
        return {r["id"]: r["ring_id"] for r in self._read("rings_of", ids=list(account_ids))}

    def current_rings(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self._read("current_rings"):
            out.setdefault(r["ring_id"], []).append(r["account_id"])
        return out

    def ring_lineage(self, ring_ids: Sequence[str]) -> dict[str, model.RingLineage]:
        if not ring_ids:
            return {}
        return {r["id"]: model.RingLineage(dtn(r["created_at"]), list(r["members"]))
                for r in self._read("ring_lineage", ids=sorted(set(ring_ids)))}

    def _pinned_sweep(self, cur: dict[str, Any] | None) -> tuple[str, str | None]:
        """(sweep id, its generation): the cursor's sweep, else the current one, else ''."""
        sid = str(cur["s"]) if cur is not None and "s" in cur else None
        r = self._resolve(sid)
        return (r["sid"] if r["sid"] is not None else ""), r["gen"]

    def list_accounts(
        self, order: AccountOrder, min_risk: float | None, label: model.LabelValue | None, cursor: str | None,
        limit: int,
    ) -> model.Page[model.Account]:
        cur = cursors.decode(cursor)
        sid, gen = self._pinned_sweep(cur)
        want = limit + 1
        if order == "risk_desc":
            rows = self._risk_order_page(gen, min_risk, label, cur, want)
        else:
            rows = self._id_page(gen, min_risk, label, cur["i"] if cur else None, False, want)
        more = len(rows) > limit
        rows = rows[:limit]
        accounts = {a.id: a for a in self._accounts([r[0] for r in rows], sid)} if rows else {}
        data = [accounts[i] for i, _ in rows if i in accounts]
        nxt = None
        if more:
            last_id, last_risk = rows[-1]
            nxt = cursors.encode(s=sid, r=last_risk if last_risk is not None else -1, i=last_id)
        return model.Page(data, nxt)

    def _risk_order_page(
        self, gen: str | None, min_risk: float | None, label: str | None, cur: dict[str, Any] | None, want: int
    ) -> list[tuple[str, float | None]]:
        """Order by coalesce(sweep risk, -1) DESC, id, in three index-friendly ranges:
        risk > -1 (from the sweep's risk index), sort key == -1 (accounts without a sweep
        risk, by id), risk < -1 (from the risk index again)."""
        after_r = float(cur["r"]) if cur else None
        after_i = str(cur["i"]) if cur else None
        floor = -_INF if min_risk is None else float(min_risk)
        rows: list[tuple[str, float | None]] = []

        def by_risk(above: float, below: float, keyed: bool) -> None:
            if gen is None or len(rows) >= want:
                return
            found = self._read(
                "list_accounts_by_risk", gen=gen, above=above, below=below, min_risk=floor,
                upper=after_r if keyed else _INF, after_id=after_i if keyed else None, label=label,
                limit=want - len(rows),
            )
            rows.extend((r["id"], r["risk"]) for r in found)

        if after_r is None or after_r > -1:
            by_risk(-1.0, _INF, after_r is not None)
        if (after_r is None or after_r >= -1) and len(rows) < want and (min_risk is None or min_risk <= -1):
            keyed = after_r is not None and after_r == -1
            rows.extend(self._id_page(gen, min_risk, label, after_i if keyed else None, True, want - len(rows)))
        if min_risk is None or min_risk < -1:
            by_risk(-_INF, -1.0, after_r is not None and after_r < -1)
        return rows

    def _id_page(
        self, gen: str | None, min_risk: float | None, label: str | None, after_id: str | None, unscored_only: bool,
        want: int,
    ) -> list[tuple[str, float | None]]:
        found = self._read(
            "list_accounts_by_id", gen=gen, from_id=after_id or "", after_id=after_id, label=label,
            min_risk=min_risk, unscored_only=unscored_only, limit=want,
        )
        return [(r["id"], r["risk"]) for r in found]

    def list_rings(
        self, min_risk: float | None, cursor: str | None, limit: int,
        case_status: model.CaseFilter | None = None, assignee: str | None = None,
    ) -> model.Page[model.RingSummary]:
        cur = cursors.decode(cursor)
        sid, gen = self._pinned_sweep(cur)
        if gen is None:
            return model.Page([], None)
        rows = self._read(
            "list_rings", gen=gen, min_risk=-_INF if min_risk is None else float(min_risk),
            upper=float(cur["r"]) if cur else _INF, after_id=str(cur["i"]) if cur else None, limit=limit + 1,
            case_status=case_status, assignee=assignee,
        )
        more = len(rows) > limit
        data = [_summary(r) for r in rows[:limit]]
        nxt = cursors.encode(s=sid, r=data[-1].risk, i=data[-1].id) if more else None
        return model.Page(data, nxt)

    def ring_summary(self, ring_id: str) -> model.RingSummary | None:
        rows = self._read("ring_summary", ring_id=ring_id)
        return _summary(rows[0]) if rows else None

    def get_ring(self, ring_id: str) -> model.Ring | None:
        rows = self._read("get_ring", ring_id=ring_id)
        if not rows:
            return None
        r = rows[0]
        members = [model.RingMember(a, risk if risk is not None else 0.0, lab) for a, risk, lab in r["members"]]
        identifiers = [model.RingIdentifier(t, i, n) for t, i, n in r["identifiers"]]
        history = [model.RingHistoryEntry(s, dtn(at), ev, n) for s, at, ev, n in r["history"]]
        return model.Ring(_summary(r), members, identifiers, history, self.get_case(ring_id))

    # -- cases -------------------------------------------------------------------------
    def put_case(
        self, ring_id: str, status: model.CaseStatus, assignee: str | None, note: str | None, key_id: str,
        label_members: bool = False, keep_assignee: bool = False,
    ) -> model.Case:
        now = utcnow()

        def work(tx: ManagedTransaction) -> model.Case:
            members = [r["account_id"] for r in tx.run(query("case_ring_members"), ring_id=ring_id)]
            if not members:  # raised inside the transaction function: it rolls back
                raise NotFound(f"ring {ring_id} not found")
            current = _read_cases(tx, [ring_id]).get(ring_id)
            _append_cases(tx, [case_move(current, ring_id, status, assignee, keep_assignee, note, key_id, now)])
            if status == "confirmed_fraud" and label_members:
                _write_labels(tx, *prepare_labels(fraud_labels(ring_id, members, note, now), now))
            return _read_cases(tx, [ring_id])[ring_id]

        return self._run(True, work)

    def get_case(self, ring_id: str) -> model.Case | None:
        return self._run(False, lambda tx: _read_cases(tx, [ring_id]).get(ring_id))

    # -- jobs and locks ----------------------------------------------------------------
    def create_job(self, kind: model.JobKind, params: dict[str, object] | None = None) -> model.Job:
        job = model.Job(uuid.uuid4().hex, kind, "queued", utcnow(), params=dict(params or {}))
        self._write("job_create", id=job.id, kind=kind, created_at=ts(job.created_at), params=json.dumps(job.params))
        return job

    def update_job(
        self, job_id: str, status: str, result: dict[str, object] | None = None, error: str | None = None
    ) -> model.Job:
        self._write(
            "job_update", id=job_id, status=status, now=ts(utcnow()),
            result=None if result is None else json.dumps(result), error=error,
        )
        job = self.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def count_jobs(self) -> dict[tuple[str, str], int]:
        return {(r["kind"], r["status"]): r["n"] for r in self._read("count_jobs")}

    def job_ids(self, status: str, limit: int = 100) -> list[str]:
        return [r["id"] for r in self._read("job_ids", status=status, limit=limit)]

    def get_job(self, job_id: str) -> model.Job | None:
        rows = self._read("job_get", id=job_id)
        if not rows:
            return None
        r = rows[0]
        return model.Job(
            r["id"], r["kind"], r["status"], dtn(r["created_at"]), dt(r["started_at"]), dt(r["finished_at"]),
            json.loads(r["result"]) if r["result"] else None, r["error"], json.loads(r["params"]),
        )

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: datetime | None = None) -> bool:
        t = ts(now or utcnow())
        rows = self._write("lock_acquire", name=name, owner=owner, now=t, expires_at=t + ttl_s)
        return bool(rows and rows[0]["acquired"])

    def release_lock(self, name: str, owner: str) -> None:
        self._write("lock_release", name=name, owner=owner)

    # -- diagnostics: Neo4j-only checks for tests/contract/test_neo4j_store.py -------------
    # Not part of `GraphStore`: they expose how this backend stores things (schema rules, query
    # plans, node counts), which the shared contract deliberately cannot see.
    def explain(self, name: str, /, **params: Any) -> str:
        """The plan Neo4j would run for the named query, as text; nothing is executed. Raises the
        driver's error if the query does not compile. Runs in a write transaction, which any
        query may plan in."""

        def plan(tx: ManagedTransaction) -> str:
            return repr(tx.run("EXPLAIN " + query(name), params).consume().plan)

        return self._run(True, plan)

    def schema_rules(self) -> tuple[dict[str, tuple[str, list[str], list[str]]], dict[str, str]]:
        """(constraint name -> (type, labels, properties), index name -> state)."""
        constraints = {r["name"]: (r["type"], r["labels"], r["properties"]) for r in self._read("schema_constraints")}
        return constraints, {r["name"]: r["state"] for r in self._read("schema_indexes")}

    def publication_counts(self) -> dict[str, int]:
        """Published-sweep nodes of each kind in all generations (risks, rings, members, idents,
        sweeps, publications, history): what publishing and its garbage collection leave behind."""
        return dict(self._read("sweep_row_counts")[0])

    def graph_size(self) -> dict[str, int]:
        """Every node and relationship in the database: {"nodes": n, "relationships": m}."""
        return dict(self._read("count_nodes")[0])

    def graph_dump(self) -> tuple[list[Any], list[Any]]:
        """(nodes, relationships) of the whole graph but its Meta markers, each sorted, in a form
        two databases can be compared by: see `cypher/graph_dump.cypher`."""
        r = self._read("graph_dump")[0]
        nodes = sorted(((sorted(labels), sorted(props.items())) for labels, props in r["nodes"]), key=repr)
        rels = sorted(((sorted(sl), s, t, sorted(props.items()), sorted(el), e) for sl, s, t, props, el, e in
                       r["relationships"]), key=repr)
        return nodes, rels

    def neighbourhood_hop_by_hop(self, seeds: Sequence[str], hops: int, hub_cap: int) -> model.Subgraph:
        """`neighbourhood` as the per-hop queries build it (what it does for hops > 1), at any
        depth and without `rings`: the reference its one-statement path for one hop is tested against."""
        return self._run(False, lambda tx: expand(_Expansion(tx), seeds, hops, hub_cap))


class _Expansion:
    """`graph.neighbourhood.ExpansionSource` over one read transaction."""

    def __init__(self, tx: ManagedTransaction) -> None:
        self.tx = tx

    def _links_of(self, account_ids: Sequence[str]) -> list[Edge]:
        if not account_ids:
            return []
        rows = self.tx.run(query("links_of"), ids=list(account_ids)).single(strict=True)["rows"]
        return [(a, model.IdentifierKey(t, i), dtn(f)) for a, t, i, f in rows]

    def _links_of_ordered(self, account_ids: Sequence[str], limit: int) -> list[Edge]:
        if not account_ids or limit <= 0:
            return []
        rows = self.tx.run(query("links_of_ordered"), ids=list(account_ids), limit=limit).single(strict=True)["rows"]
        return [(a, model.IdentifierKey(t, i), dtn(f)) for a, t, i, f in rows]

    def _identifier_accounts(
        self, keys: Sequence[model.IdentifierKey], cap: int
    ) -> tuple[dict[model.IdentifierKey, int], list[Edge]]:
        by_key = {key_of(k): k for k in keys}
        degrees: dict[model.IdentifierKey, int] = dict.fromkeys(keys, 0)
        edges: list[Edge] = []
        if not keys:
            return degrees, edges
        if cap <= 0:  # degrees only: counted from the node's degree store, no link read
            for r in self.tx.run(query("identifier_degrees"), keys=list(by_key)):
                degrees[by_key[r["key"]]] = int(r["degree"])
            return degrees, edges
        for r in self.tx.run(query("identifier_accounts"), keys=list(by_key), cap=cap):
            key = by_key[r["key"]]
            degrees[key] = int(r["degree"])
            edges.extend((account_id, key, dtn(first_seen)) for account_id, first_seen in r["firsts"])
        return degrees, edges

    def _account_rows(self, account_ids: Sequence[str]) -> dict[str, model.AccountRow]:
        if not account_ids:
            return {}
        rows = self.tx.run(query("account_rows"), ids=list(account_ids)).single(strict=True)["rows"]
        return {r[0]: account_row(r) for r in rows}

    def benign_identifiers(self) -> set[model.IdentifierKey]:
        return {model.IdentifierKey(r["type"], r["id"]) for r in self.tx.run(query("benign_identifiers"))}


@gc_paused()  # a batch allocates a few lists per link and holds no cycle: 15 -> 8 µs/link
def upsert_parameters(
    accounts: Sequence[model.AccountIn],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[list[str]]], int]:
    """What `upsert_batch.cypher` is sent for `accounts`: (`prepare_upsert`'s rows, `$rows`, the
    identifiers of each type by parameter name, the link count). A link names its identifier by
    its position in its type's list, so the server seeks each identifier once per batch. Public
    for bench/ingest.py's PROFILE of the upsert."""
    rows, link_count = prepare_upsert(accounts)
    found: dict[model.IdType, set[str]] = {t: set() for t in TYPE_ORDER}
    for r in rows:
        for t, i, _, _ in r["links"]:
            found[t].add(i)
    identifiers: dict[str, list[list[str]]] = {}
    position: dict[model.IdType, dict[str, int]] = {}
    for t, ids in found.items():
        ordered = sorted(ids)  # the order of their keys: within a type every key has one prefix
        identifiers[TYPED_MODEL[t].param] = [[identifier_key(t, i), i] for i in ordered]
        position[t] = {i: k for k, i in enumerate(ordered)}
    param = {t: TYPED_MODEL[t].param for t in TYPE_ORDER}
    batch = []
    for r in rows:
        attributes = r["new_attributes"]
        row = {"id": r["id"], "created_at": r["created_at"], "attributes": encode_attributes(attributes),
               "props": attribute_properties(attributes), **{p: [] for p in param.values()}}
        for t, i, f, la in r["links"]:
            row[param[t]].append([position[t][i], f, la])
        batch.append(row)
    return rows, batch, identifiers, link_count


def _upsert_work(accounts: Sequence[model.AccountIn]) -> tuple[Callable[[ManagedTransaction, float | None], None], int]:
    """The upsert of `accounts` as a function of (transaction, score request time or None), and
    the batch's link count."""
    rows, batch, identifiers, link_count = upsert_parameters(accounts)

    def work(tx: ManagedTransaction, requested_at: float | None) -> None:
        if not rows:
            return
        # New accounts are written by this first statement; a batch of new accounts (a load,
        # an account posted to the API) is one statement and one commit.
        result = tx.run(query("upsert_batch"), {"rows": batch, "requested_at": requested_at, **identifiers})
        old = {rec["id"]: rec["attributes"] for rec in result}
        if old:
            existing = [{**b, "attributes": merge_attributes(old[b["id"]], r["new_attributes"])}
                        for b, r in zip(batch, rows, strict=True) if b["id"] in old]
            tx.run(query("upsert_accounts"), {"rows": existing, "requested_at": requested_at, **identifiers}).consume()

    return work, link_count


def _neighbourhood(tx: ManagedTransaction, seeds: Sequence[str], hops: int, hub_cap: int) -> model.Subgraph:
    if hops == 1:  # what online scoring asks: one statement, one round trip
        record = tx.run(query("neighbourhood"), ids=list(dict.fromkeys(seeds)), cap=max(hub_cap, 0))
        return neighbourhood_of(seeds, record.single(strict=True), hub_cap)
    # Deeper: hop by hop, all in one transaction (one consistent view, one commit).
    sub = expand(_Expansion(tx), seeds, hops, hub_cap)
    if sub.accounts:
        sub.rings = {r["id"]: r["ring_id"] for r in tx.run(query("rings_of"), ids=list(sub.accounts))}
    return sub


def _summary(r: Any) -> model.RingSummary:
    return model.RingSummary(r["id"], r["risk"], r["size"], dtn(r["created_at"]), dtn(r["updated_at"]), r["sweep_id"],
                             r["case_status"], r["assignee"])


def _write_labels(tx: ManagedTransaction, events: list[dict[str, Any]], current: list[dict[str, Any]]) -> None:
    """`prepare_labels`' events and current labels, in the caller's transaction."""
    base = tx.run(query("label_sequence"), n=len(events)).single(strict=True)["base"]
    tx.run(query("add_label_events"), events=events, base=base).consume()
    tx.run(query("set_current_labels"), rows=current).consume()


def _append_cases(tx: ManagedTransaction, writes: Sequence[model.CaseWrite]) -> None:
    if writes:
        rows = [{"ring_id": w.ring_id, "status": w.status, "assignee": w.assignee, "note": w.note, "key_id": w.key_id,
                 "at": ts(w.at)} for w in writes]
        tx.run(query("case_append"), rows=rows).consume()


def _read_cases(tx: ManagedTransaction, ring_ids: Sequence[str]) -> dict[str, model.Case]:
    if not ring_ids:
        return {}
    out: dict[str, model.Case] = {}
    for r in tx.run(query("case_read"), ids=list(ring_ids)):
        history = [model.CaseEntry(dtn(at), st, who, note, key) for at, st, who, note, key in r["history"]]
        out[r["ring_id"]] = model.Case(r["ring_id"], r["status"], r["assignee"], dtn(r["updated_at"]), history)
    return out


def _account(r: Any) -> model.Account:
    """Sweep risk when the sweep covers the account, else its latest online score."""
    links = [model.StoredLink(t, i, dtn(f), dtn(la)) for t, i, f, la in r["links"]]
    risk, scored_at, version = r["score_risk"], r["scored_at"], r["score_model"]
    if r["sweep_risk"] is not None:
        risk, scored_at, version = r["sweep_risk"], r["sweep_at"], r["sweep_model"]
    return model.Account(r["id"], dtn(r["created_at"]), load_attributes(r["attributes"]), links, r["label"], risk,
                         dt(scored_at), version, r["ring_id"])


__all__ = ["Neo4jConfig", "Neo4jStore", "identifier_key", "open_driver", "upsert_parameters"]
