"""Sweeps on the embedded store: determinism, identity, atomic publication, failures, the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ringfence.core.errors import SweepRunning
from ringfence.core.settings import Settings
from ringfence.graph.model import AccountIn, Link
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.services.sweeps import run_sweep

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


class ConstScorer:
    """A stand-in for the GNN scorer: every account gets the same score."""

    version = "const-1"
    schema = None

    def __init__(self, value: float = 0.2) -> None:
        self.value = value

    def score_all(self, store: Any, as_of: Any = None, *, arrays: Any = None) -> dict[str, float]:
        return {a.id: self.value for chunk in store.stream_accounts() for a in chunk}


class FailingScorer(ConstScorer):
    def score_all(self, store: Any, as_of: Any = None, *, arrays: Any = None) -> dict[str, float]:
        raise RuntimeError("scorer exploded")


class BlockingScorer(ConstScorer):
    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def score_all(self, store: Any, as_of: Any = None, *, arrays: Any = None) -> dict[str, float]:
        self.entered.set()
        assert self.release.wait(30)
        return super().score_all(store, as_of, arrays=arrays)


def ring(prefix: str, n: int, hours: float = 0.0, start: int = 0) -> list[AccountIn]:
    """Members sharing pooled devices and cards and one bank account, created within hours."""
    return [
        AccountIn(f"{prefix}{k:02d}", T0 + timedelta(hours=hours + k * 0.5), {}, (
            Link("device", f"{prefix}-dev{k % 3}"), Link("card", f"{prefix}-card{k % 2}"),
            Link("bank_account", f"{prefix}-bank"),
        ))
        for k in range(start, start + n)
    ]


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def new_store(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.migrate()
    return store


def rings_by_members(store: SQLiteStore) -> dict[tuple[str, ...], str]:
    return {tuple(ms): rid for rid, ms in store.current_rings().items()}


def test_same_data_same_rings_and_ids(tmp_path: Path) -> None:
    data = ring("a", 6) + ring("b", 4, hours=300) + ring("c", 3, hours=900)
    out = []
    for k in range(2):
        store = new_store(tmp_path / f"g{k}.db")
        store.upsert_accounts(data)
        result = run_sweep(store, settings(tmp_path), scorer=ConstScorer())
        out.append(rings_by_members(store))
        assert {r.event for r in result.rings} == {"created"}
        assert set(result.stats["phases"]) == {"load", "detect", "score", "match", "publish"}
        assert result.stats["rings"] == 3 and result.stats["accounts"] == 13
        store.close()
    assert out[0] == out[1] and len(out[0]) == 3


# gnn.graphdata builds torch sparse tensors that warn about invariant checks (not ours to fix).
@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
def test_real_scorer_and_job_record(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 6))
    job = sqlite_store.create_job("sweep")
    result = run_sweep(sqlite_store, settings(tmp_path), job_id=job.id)  # the heuristic scorer
    assert result.model_version == "heuristic-1" and len(result.rings) == 1
    done = sqlite_store.get_job(job.id)
    assert done is not None and done.status == "succeeded" and done.result is not None
    assert done.result["sweep_id"] == result.sweep_id and done.result["rings"] == 1
    info = sqlite_store.current_sweep()
    assert info is not None and info.sweep_id == result.sweep_id


def test_sweep_hands_its_one_load_to_the_scorer(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    """Detection and scoring read the same arrays: the scorer is given them, with the
    attributes it asked for, and scores from them equal scores from its own load."""
    from ringfence.gnn.score import Scorer

    sqlite_store.upsert_accounts(ring("a", 6) + ring("b", 4, hours=100.0))
    seen: list[Any] = []

    class Recording(Scorer):
        def score_all(self, store: Any, as_of: Any = None, chunk_size: int = 200_000, arrays: Any = None,
                      ) -> dict[str, float]:
            seen.append(arrays)
            return super().score_all(store, as_of, chunk_size, arrays)

    scorer = Recording.load(settings(tmp_path))
    own = Scorer.score_all(scorer, sqlite_store)  # before any ring is published (the heuristic reads them)
    result = run_sweep(sqlite_store, settings(tmp_path), scorer=scorer)
    (arrays,) = seen
    assert arrays is not None and arrays.columns is not None
    assert arrays.account_ids == sorted(result.account_risks) and len(arrays.account_ids) == 10
    assert all(abs(own[a] - r) <= 1e-9 for a, r in result.account_risks.items())


def test_ring_that_grows_keeps_its_id_and_created_at(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 6) + ring("b", 4, hours=300))
    first = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    a_id = rings_by_members(sqlite_store)[tuple(f"a{k:02d}" for k in range(6))]
    before = sqlite_store.get_ring(a_id)
    assert before is not None
    opened = sqlite_store.put_case(a_id, "in_review", "alice", None, "key-1")
    sqlite_store.upsert_accounts(ring("a", 2, start=6))  # two new members reusing the pools
    second = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    after = sqlite_store.get_ring(a_id)
    assert after is not None and after.summary.size == 8
    assert after.case == opened and after.summary.case_status == "in_review"  # the case follows the id
    assert after.summary.created_at == before.summary.created_at
    assert [(h.sweep_id, h.event, h.size) for h in after.history] == [
        (first.sweep_id, "created", 6), (second.sweep_id, "grew", 8)
    ]
    events = {r.id: r.event for r in second.rings}
    assert events[a_id] == "grew" and sorted(events.values()) == ["grew", "unchanged"]
    assert second.sweep_id > first.sweep_id  # sortable


def test_rings_joined_by_a_new_shared_card_merge(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 6) + ring("b", 4, hours=300))
    run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    ids = rings_by_members(sqlite_store)
    a_id, b_id = ids[tuple(f"a{k:02d}" for k in range(6))], ids[tuple(f"b{k:02d}" for k in range(4))]
    sqlite_store.put_case(b_id, "in_review", "bob", None, "key-2")
    # One card now used by a member of each ring (and nobody else) ties the two rings.
    sqlite_store.upsert_accounts([
        AccountIn("a00", T0, {}, (Link("card", "shared-new"),)),
        AccountIn("b00", T0 + timedelta(hours=300), {}, (Link("card", "shared-new"),)),
    ])
    result = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    assert [(r.id, r.event, len(r.members)) for r in result.rings] == [(a_id, "merged", 10)]
    assert result.dissolved == [(b_id, 4)] and result.rings[0].merged_from == [b_id]
    assert sqlite_store.get_ring(b_id) is None
    case = sqlite_store.get_case(a_id)  # the survivor had none: the merge opened one, naming b's
    assert case is not None and (case.status, case.assignee) == ("open", "bob")
    assert case.history[-1].note == f"sweep {result.sweep_id}: merged in {b_id} (case in_review, assignee bob)"
    assert sqlite_store.get_case(b_id).history[-1].note == f"sweep {result.sweep_id}: merged into {a_id}"  # type: ignore[union-attr]
    merged = sqlite_store.get_ring(a_id)
    assert merged is not None and [h.event for h in merged.history] == ["created", "merged"]
    assert ("card", "shared-new", 2) in {(i.type, i.id, i.accounts) for i in merged.identifiers}


def test_readers_never_see_a_mixture_of_two_sweeps(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 5) + ring("b", 4, hours=300))
    run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    observations: list[tuple[str, frozenset[tuple[str, int]]]] = []
    ring_views: list[tuple[str, int, int]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                page = sqlite_store.list_rings(None, None, 100)
                sweeps = {r.sweep_id for r in page.data}
                assert len(sweeps) == 1
                observations.append((sweeps.pop(), frozenset((r.id, r.size) for r in page.data)))
                for r in page.data:
                    full = sqlite_store.get_ring(r.id)
                    if full is not None:
                        ring_views.append((full.summary.sweep_id, full.summary.size, len(full.members)))
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    published: dict[str, frozenset[tuple[str, int]]] = {}
    try:
        for k in range(6):  # every sweep changes the rings: ring "a" grows by one member
            sqlite_store.upsert_accounts(ring("a", 1, start=5 + k) + ring(f"n{k}", 3, hours=1000 + 100 * k))
            result = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
            published[result.sweep_id] = frozenset((r.id, len(r.members)) for r in result.rings)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert len(observations) > 5
    for sweep_id, rings in observations:
        if sweep_id in published:
            assert rings == published[sweep_id]
    assert all(size == members for _, size, members in ring_views)


def test_failure_before_publish_leaves_previous_state(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 5))
    good = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    before = sqlite_store.current_rings()
    sqlite_store.upsert_accounts(ring("b", 4, hours=300))
    job = sqlite_store.create_job("sweep")
    with pytest.raises(RuntimeError, match="scorer exploded"):
        run_sweep(sqlite_store, settings(tmp_path), scorer=FailingScorer(), job_id=job.id)
    failed = sqlite_store.get_job(job.id)
    assert failed is not None and failed.status == "failed" and "scorer exploded" in (failed.error or "")
    info = sqlite_store.current_sweep()
    assert info is not None and info.sweep_id == good.sweep_id
    assert sqlite_store.current_rings() == before
    nxt = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())  # the lock was released
    assert len(nxt.rings) == 2


class PublishFailsMidway(SQLiteStore):
    """Fails inside publish_sweep's transaction, after some rows were written."""

    @staticmethod
    def _last_updated(conn: Any, ring_id: str, default: float) -> float:  # called mid-transaction
        raise OSError("disk gone")


def test_failure_inside_publish_leaves_previous_state(tmp_path: Path) -> None:
    store = new_store(tmp_path / "g.db")
    store.upsert_accounts(ring("a", 5) + ring("b", 4, hours=300))
    good = run_sweep(store, settings(tmp_path), scorer=ConstScorer())
    ring_a = store.get_ring(good.rings[0].id)
    store.close()
    broken = PublishFailsMidway(tmp_path / "g.db")
    with pytest.raises(OSError, match="disk gone"):
        run_sweep(broken, settings(tmp_path), scorer=ConstScorer(0.9))  # all "unchanged": hits _last_updated
    broken.close()
    store = new_store(tmp_path / "g.db")
    info = store.current_sweep()
    assert info is not None and info.sweep_id == good.sweep_id
    assert store.get_ring(good.rings[0].id) == ring_a
    counts = store.publication_counts()  # no row of the failed publication is left
    assert (counts["sweeps"], counts["risks"]) == (1, len(good.account_risks))
    again = run_sweep(store, settings(tmp_path), scorer=ConstScorer())
    assert {r.event for r in again.rings} == {"unchanged"}
    store.close()


KILLED_SWEEP = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from ringfence.graph.sqlite_store import SQLiteStore
    from ringfence.core.settings import Settings
    from ringfence.services.sweeps import run_sweep

    class Scorer:
        version = "const-1"
        schema = None
        def score_all(self, store, as_of=None, *, arrays=None):
            return {{a.id: 0.5 for chunk in store.stream_accounts() for a in chunk}}

    class Killed(SQLiteStore):
        @staticmethod
        def _last_updated(conn, ring_id, default):
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies inside the publish transaction

    run_sweep(Killed({db!r}), Settings(data_dir={data!r}), scorer=Scorer(), job_id={job!r})
""")


def test_sweep_killed_inside_publish(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    store = new_store(db)
    store.upsert_accounts(ring("a", 5) + ring("b", 4, hours=300))
    good = run_sweep(store, settings(tmp_path), scorer=ConstScorer())
    job = store.create_job("sweep")
    code = KILLED_SWEEP.format(root=str(ROOT), db=str(db), data=str(tmp_path / "data"), job=job.id)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    info = store.current_sweep()
    assert info is not None and info.sweep_id == good.sweep_id  # previous sweep intact and readable
    assert len(store.list_rings(None, None, 10).data) == 2
    # A fresh owner is refused while the dead worker's lock is live...
    with pytest.raises(SweepRunning):
        run_sweep(store, settings(tmp_path), scorer=ConstScorer())
    # ...but the redelivered task of the same job re-takes its own lock and runs cleanly.
    result = run_sweep(store, settings(tmp_path), scorer=ConstScorer(), job_id=job.id)
    assert {r.event for r in result.rings} == {"unchanged"}
    done = store.get_job(job.id)
    assert done is not None and done.status == "succeeded"
    store.close()


def test_second_concurrent_sweep_is_refused(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 5))
    blocking = BlockingScorer()
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.append(run_sweep(sqlite_store, settings(tmp_path), scorer=blocking))
    )
    thread.start()
    try:
        assert blocking.entered.wait(30)
        job = sqlite_store.create_job("sweep")
        with pytest.raises(SweepRunning):
            run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer(), job_id=job.id)
    finally:
        blocking.release.set()
        thread.join()
    assert len(results) == 1 and len(results[0].rings) == 1
    run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())  # free again


def test_stale_lock_expires(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 5))
    long_ago = datetime.now(UTC) - timedelta(hours=5)
    assert sqlite_store.acquire_lock("sweep", "dead-worker", ttl_s=3600, now=long_ago)
    result = run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer())
    assert len(result.rings) == 1


def test_progress_reports_phases(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.upsert_accounts(ring("a", 5))
    seen: list[tuple[str, float]] = []
    run_sweep(sqlite_store, settings(tmp_path), scorer=ConstScorer(), progress=lambda p, f: seen.append((p, f)))
    assert [p for p, _ in seen] == ["load", "detect", "score", "match", "publish"]
    assert seen[-1][1] == 1.0
