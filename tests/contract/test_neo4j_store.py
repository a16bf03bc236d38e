"""Neo4j-only behaviour of `Neo4jStore`; the shared contract is in test_*_contract.py."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import IncompleteCommit, ServiceUnavailable, SessionExpired, TransientError

import ringfence.graph.neo4j_store as neo4j_store_module
from ringfence.core.errors import StoreUnavailable
from ringfence.graph.model import AccountIn, IdentifierKey, Link, PublishedRing, RingIdentifier, RingList, SweepResult
from ringfence.graph.neo4j_queries import CYPHER_DIR, migrations, query
from ringfence.graph.neo4j_store import Neo4jConfig, Neo4jStore, open_driver
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.graph.store import GraphStore
from tests.support.launchers import free_port

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def neo(_neo4j_store: GraphStore) -> Neo4jStore:
    assert isinstance(_neo4j_store, Neo4jStore)
    _neo4j_store.reset()
    return _neo4j_store


def _sweep(sid: str, minute: float, risks: dict[str, float], rings: dict[str, list[str]]) -> SweepResult:
    published = [
        PublishedRing(rid, max(risks[m] for m in members), members, [RingIdentifier("card", f"k-{rid}", len(members))],
                      at(0), "created")
        for rid, members in rings.items()
    ]
    return SweepResult(sid, at(minute - 1), at(minute), "m1", risks, RingList(published))


def _view(store: Neo4jStore) -> tuple[Any, ...]:
    """What readers see of the published results."""
    accounts = store.list_accounts("risk_desc", None, None, None, 100).data
    ring = store.get_ring("r1")
    return (store.current_sweep(), [(a.id, a.risk, a.ring_id) for a in accounts], store.current_rings(),
            ring and (ring.summary, ring.members, ring.identifiers))


# -- schema and queries --------------------------------------------------------------------
def test_migrate_is_idempotent_and_creates_constraints_and_indexes(neo: Neo4jStore) -> None:
    neo.migrate()
    neo.migrate()
    constraints, indexes = neo.schema_rules()
    assert constraints["account_id"] == ("UNIQUENESS", ["Account"], ["id"])
    assert constraints["identifier_key"] == ("UNIQUENESS", ["Identifier"], ["key"])
    assert constraints["sweep_risk_key"] == ("UNIQUENESS", ["SweepRisk"], ["gen", "account_id"])
    assert {"score_account", "sweep_id", "meta_key", "job_id", "lock_name", "label_event_key"} <= constraints.keys()
    assert {"sweep_risk_order", "sweep_ring_order", "ring_member_account", "account_label"} <= indexes.keys()
    assert set(indexes.values()) == {"ONLINE"}
    # one statement per migration file, each creating exactly the rule it names
    for name in migrations():
        text = query(name)
        assert text.count(";") == 0 and f" {name.split('_', 2)[2]} IF NOT EXISTS" in text


def test_every_query_file_compiles(neo: Neo4jStore) -> None:
    names = sorted(p.stem for p in CYPHER_DIR.glob("*.cypher"))
    assert len(names) > 40
    for name in names:
        neo.explain(name)


def test_pending_scores_reads_the_score_request_index_not_the_accounts(neo: Neo4jStore) -> None:
    # The rescore beat asks every minute; at a million accounts a label scan would not do.
    text = neo.explain("pending_scores", before=0.0, limit=10)
    assert "NodeIndexSeekByRange" in text and "score_requested_at" in text
    assert "NodeByLabelScan" not in text and "AllNodesScan" not in text


def test_every_query_the_store_names_is_a_file() -> None:
    source = Path(neo4j_store_module.__file__).read_text()
    named = set(re.findall(r'(?:_read|_write|_id_pages|query)\(\s*"([a-z0-9_]+)"', source))
    named |= set(neo4j_store_module.GENERATION_DELETES) | set(migrations())
    assert len(named) > 40
    assert sorted(n for n in named if not (CYPHER_DIR / f"{n}.cypher").is_file()) == []
    # and the store never formats a query: every tx.run gets a loaded query text (`explain` prefixes one)
    assert re.findall(r'tx\.run\((?!query\(|"EXPLAIN " \+ query\()', source) == []


def test_query_loader_only_serves_files_of_the_cypher_directory() -> None:
    with pytest.raises(KeyError):
        query("../pyproject")
    with pytest.raises(KeyError):
        query("no_such_query")
    assert query("ping") is query("ping")  # cached


# -- failures become StoreUnavailable --------------------------------------------------------
def test_an_unreachable_server_raises_store_unavailable_within_its_retry_budget() -> None:
    # The retry budget (0.2 s) and the connect timeout (0.5 s) bound how long a call tries;
    # how long that takes on this machine is a benchmark's question, not a test's.
    store = Neo4jStore(Neo4jConfig.from_url(f"neo4j://neo4j:pw@127.0.0.1:{free_port()}", retry_time_s=0.2,
                                            connect_timeout_s=0.5))
    calls = [
        store.ping,
        lambda: store.get_account("a1"),
        lambda: store.upsert_accounts([AccountIn("a1", at(0))]),
        lambda: list(store.stream_links(10)),
        lambda: store.acquire_lock("sweep", "w1", 60),
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable) as info:
                call()
            assert isinstance(info.value.__cause__, ServiceUnavailable | OSError)
    finally:
        store.close()


class _FlakySession:
    """Wraps a real session; its next `failures` managed transactions raise `error` instead."""

    def __init__(self, real: Any, plan: list[BaseException]) -> None:
        self.real, self.plan = real, plan

    def __enter__(self) -> _FlakySession:
        self.real.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.__exit__(*exc)

    def _maybe_fail(self) -> None:
        if self.plan:
            raise self.plan.pop(0)

    def execute_write(self, work: Any) -> Any:
        self._maybe_fail()
        return self.real.execute_write(work)

    def execute_read(self, work: Any) -> Any:
        self._maybe_fail()
        return self.real.execute_read(work)


class _FlakyDriver:
    def __init__(self, real: Any, plan: list[BaseException]) -> None:
        self.real, self.plan = real, plan

    def session(self, **kwargs: Any) -> _FlakySession:
        return _FlakySession(self.real.session(**kwargs), self.plan)

    def close(self) -> None:
        self.real.close()


@pytest.fixture
def flaky(neo: Neo4jStore) -> Iterator[tuple[Neo4jStore, list[BaseException]]]:
    """A second store on the same database whose driver fails as planned (the list)."""
    plan: list[BaseException] = []
    store = Neo4jStore(neo.config, driver=_FlakyDriver(open_driver(neo.config), plan))  # type: ignore[arg-type]
    yield store, plan
    store.close()


def test_an_incomplete_commit_is_retried_once(flaky: tuple[Neo4jStore, list[BaseException]]) -> None:
    neo, plan = flaky
    plan.append(IncompleteCommit("connection lost during commit"))
    assert neo.upsert_accounts([AccountIn("a1", at(0), {"k": 1}, (Link("card", "c1", at(0)),))]) == (1, 1)
    assert neo.get_account("a1") is not None and plan == []
    plan.extend([IncompleteCommit("again"), IncompleteCommit("and again")])
    with pytest.raises(StoreUnavailable) as info:
        neo.upsert_accounts([AccountIn("a2", at(0))])
    assert isinstance(info.value.__cause__, IncompleteCommit)


@pytest.mark.parametrize("error", [TransientError("deadlock"), SessionExpired("gone"), ServiceUnavailable("down"),
                                   ConnectionResetError("reset")])
def test_driver_errors_translate_to_store_unavailable(
    flaky: tuple[Neo4jStore, list[BaseException]], error: BaseException
) -> None:
    neo, plan = flaky
    plan.append(error)
    with pytest.raises(StoreUnavailable) as info:
        neo.count_accounts()
    assert info.value.__cause__ is error
    assert neo.count_accounts() == 0  # the next call goes through


# -- writes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("failing", ["upsert_batch", "upsert_accounts"])  # new / existing accounts' rows
def test_a_batch_is_all_or_nothing(neo: Neo4jStore, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    neo.upsert_accounts([AccountIn("a0", at(0), {"k": 1})])
    real = neo4j_store_module.query
    monkeypatch.setattr(neo4j_store_module, "query", lambda name: "RETURN 1/0" if name == failing else real(name))
    with pytest.raises(Exception, match="/ by zero"):
        neo.upsert_accounts([AccountIn(f"a{i}", at(i), {"k": 2}) for i in range(50)])
    monkeypatch.undo()
    assert neo.count_accounts() == 1  # the accounts the first statement created were rolled back
    kept = neo.get_account("a0")
    assert kept is not None and kept.attributes == {"k": 1}


def test_concurrent_upserts_lose_no_attribute(neo: Neo4jStore) -> None:
    # Attributes merge read-modify-write in one transaction; the account is write-locked before
    # the read, so overlapping batches from many writers keep every key.
    ids = [f"c{i:02d}" for i in range(40)]
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for r in range(5):
                neo.upsert_accounts([
                    AccountIn(a, at(w + r), {f"w{w}r{r}": True}, (Link("device", f"d{(i + w) % 3}", at(r)),))
                    for i, a in enumerate(ids)
                ])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = {f"w{w}r{r}" for w in range(4) for r in range(5)}
    accounts = [a for chunk in neo.stream_accounts(100) for a in chunk]
    assert len(accounts) == 40 and all(set(a.attributes) == expected for a in accounts)
    assert all(a.created_at == at(0) for a in accounts)


def test_reset_deletes_everything_in_batches(neo: Neo4jStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neo4j_store_module, "DELETE_CHUNK", 7)
    neo.upsert_accounts([AccountIn(f"a{i}", at(i), {}, (Link("device", "hub", at(i)),)) for i in range(30)])
    neo.publish_sweep(_sweep("s1", 10, {f"a{i}": 0.5 for i in range(30)}, {"r1": ["a0", "a1", "a2"]}))
    neo.create_job("sweep")
    neo.acquire_lock("sweep", "w1", 60)
    neo.reset()
    assert neo.graph_size() == {"nodes": 0, "relationships": 0}


def test_stream_links_pages_exactly_and_skips_accounts_without_links(neo: Neo4jStore) -> None:
    accounts = [AccountIn(f"a{i:02d}", at(i), {}, tuple(Link("card", f"c{i}-{j}", at(i)) for j in range(i % 4)))
                for i in range(25)]
    neo.upsert_accounts(accounts)
    expected = sorted((a.id, x.type, x.id) for a in accounts for x in a.links)
    for size in (1, 2, 3, 5, 100):
        chunks = list(neo.stream_links(size))
        assert [len(c) for c in chunks] == [min(size, len(expected) - i) for i in range(0, len(expected), size)]
        assert [(x.account_id, x.type, x.id) for c in chunks for x in c] == expected


# -- reads -----------------------------------------------------------------------------------
def _tangle(n: int = 40) -> list[AccountIn]:
    """Accounts over a few shared cards, one hub device with ties in first_seen, lone accounts."""
    rng = random.Random(5)
    accounts = []
    for k in range(n):
        links = [Link("card", f"c{rng.randrange(8)}", at(rng.randrange(5))) for _ in range(rng.randrange(4))]
        if k % 3:
            links.append(Link("device", "hub", at(k % 4)))  # ties: ordered by account id
        accounts.append(AccountIn(f"a{k:02d}", at(k), {"k": k}, tuple(links)))
    return accounts


def test_the_one_hop_statement_builds_what_the_hop_by_hop_expansion_builds(neo: Neo4jStore, tmp_path: Path) -> None:
    # given: the same graph in Neo4j and in SQLite, some identifiers benign
    accounts = _tangle()
    lite = SQLiteStore(tmp_path / "graph.db")
    lite.migrate()
    for store in (neo, lite):
        store.upsert_accounts(accounts)
        store.set_benign(IdentifierKey("card", "c3"), True)
        store.set_benign(IdentifierKey("device", "hub"), True)
    seed_sets = [["a07"], ["a00", "a05", "a00", "ghost"], ["a03", "a01"], ["ghost"], [a.id for a in accounts]]
    for seeds in seed_sets:
        for cap in (0, 1, 3, 7, 1000):
            # when: one statement vs the three per-hop queries in one transaction
            one = neo.neighbourhood(seeds, hops=1, hub_cap=cap)
            hop_by_hop = neo.neighbourhood_hop_by_hop(seeds, hops=1, hub_cap=cap)
            # then: equal to both, and listed in the order the expansion lists them
            assert one == hop_by_hop == lite.neighbourhood(seeds, hops=1, hub_cap=cap), (seeds, cap)
            assert list(one.accounts) == list(hop_by_hop.accounts)
            assert list(one.identifiers) == list(hop_by_hop.identifiers)
    lite.close()


# -- sweeps ----------------------------------------------------------------------------------
def _fail_on(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The store's statement `name` fails as an unavailable store does (in its transaction)."""
    real = neo4j_store_module.query

    def failing(query_name: str) -> str:
        if query_name == name:
            raise StoreUnavailable("injected")
        return real(query_name)

    monkeypatch.setattr(neo4j_store_module, "query", failing)


def test_a_failed_publish_is_invisible_and_a_retry_cleans_up(neo: Neo4jStore, monkeypatch: pytest.MonkeyPatch) -> None:
    neo.upsert_accounts([AccountIn(f"a{i}", at(i)) for i in range(6)])
    first = {f"a{i}": 0.1 * i for i in range(6)}
    neo.publish_sweep(_sweep("s1", 10, first, {"r1": ["a0", "a1", "a2"]}))
    before = _view(neo)
    second = _sweep("s2", 20, {k: 1 - v for k, v in first.items()}, {"r1": ["a3", "a4", "a5"]})
    _fail_on(monkeypatch, "publish_rings")  # risks of s2 are written, then the publish dies
    with pytest.raises(StoreUnavailable):
        neo.publish_sweep(second)
    monkeypatch.undo()
    assert _view(neo) == before and neo.publication_counts()["risks"] == 6  # the failed publish dropped its rows
    # the publish dies again, and this time the server is gone before it can drop its rows (its
    # second garbage collection: the first runs before it writes)
    real, calls = neo4j_store_module.query, []

    def gone(name: str) -> str:
        calls.append(name)
        if name == "publish_rings" or (name == "stale_publications" and calls.count(name) > 1):
            raise StoreUnavailable("injected")
        return real(name)

    monkeypatch.setattr(neo4j_store_module, "query", gone)
    with pytest.raises(StoreUnavailable):
        neo.publish_sweep(second)
    monkeypatch.undo()
    assert _view(neo) == before and neo.publication_counts()["risks"] == 12
    neo.publish_sweep(second)  # the retry drops the partial rows first
    assert neo.current_sweep() is not None and neo.current_sweep().sweep_id == "s2"  # type: ignore[union-attr]
    assert neo.current_rings() == {"r1": ["a3", "a4", "a5"]}
    assert neo.publication_counts() == {"risks": 12, "rings": 2, "members": 6, "idents": 2, "sweeps": 2,
                                        "publications": 0, "history": 2}


def test_republishing_the_current_sweep_swaps_it_at_once(neo: Neo4jStore, monkeypatch: pytest.MonkeyPatch) -> None:
    neo.upsert_accounts([AccountIn(f"a{i}", at(i)) for i in range(6)])
    risks = {f"a{i}": 0.1 * i for i in range(6)}
    neo.publish_sweep(_sweep("s1", 10, risks, {"r1": ["a0", "a1", "a2"]}))
    before = _view(neo)
    again = _sweep("s1", 10, dict.fromkeys(risks, 0.9), {"r1": ["a3", "a4", "a5"]})
    _fail_on(monkeypatch, "publish_rings")
    with pytest.raises(StoreUnavailable):
        neo.publish_sweep(again)
    monkeypatch.undo()
    assert _view(neo) == before  # readers still see the whole old publication
    neo.publish_sweep(again)
    assert neo.current_rings() == {"r1": ["a3", "a4", "a5"]}
    assert {a.risk for a in neo.list_accounts("id", None, None, None, 10).data} == {0.9}
    assert [h.sweep_id for h in neo.get_ring("r1").history] == ["s1"]  # type: ignore[union-attr]
    assert neo.publication_counts()["risks"] == 6 and neo.publication_counts()["publications"] == 0


def test_only_the_last_three_sweeps_keep_their_rows(neo: Neo4jStore) -> None:
    neo.upsert_accounts([AccountIn(f"a{i}", at(i)) for i in range(3)])
    for n in range(5):
        neo.publish_sweep(_sweep(f"s{n}", 10 * (n + 1), {"a0": 0.5, "a1": 0.6, "a2": 0.7}, {"r1": ["a0", "a1", "a2"]}))
    counts = neo.publication_counts()
    assert (counts["sweeps"], counts["risks"], counts["members"], counts["publications"]) == (3, 9, 9, 0)
    ring = neo.get_ring("r1")
    assert ring is not None and [h.sweep_id for h in ring.history] == [f"s{n}" for n in range(5)]  # history stays
