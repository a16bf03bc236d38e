# ruff: noqa: F811  (the fixtures imported from tests.support.worker_fixtures are parameters here)
"""Real worker processes on a real redis-server and the real SQLite store, under faults.

Each test prints what it counted; `lost` must be 0. Worker processes are
`celery -A ringfence.workers worker` started here with subprocess (see tests/support/launchers.py).
No Celery warning is filtered: the workers' warnings go to their logs, not to pytest.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from ringfence.core.clock import utcnow
from ringfence.core.settings import Settings
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.services.dispatch import job_limit
from ringfence.services.sweeps import run_sweep_job
from ringfence.workers.dispatch import CeleryDispatcher
from tests.support.builders import account_in, account_json, own_cards, ring_world
from tests.support.launchers import ApiServer, Beat, RedisServer, SweepHold, Worker, wait_for
from tests.support.settings import SCORE_KEY, worker_env
from tests.support.worker_fixtures import FAST_REDELIVERY, redis, store, workers  # noqa: F401  (fixtures)


def settings_for(tmp_path: Path, redis: RedisServer) -> Settings:
    return Settings(data_dir=tmp_path / "data", graph_url=f"sqlite:///{tmp_path / 'graph.db'}", broker_url=redis.url)


def scored(store: SQLiteStore, ids: list[str]) -> int:
    return sum(1 for i in ids if store.get_score(i) is not None)


def test_a_thousand_async_scores_each_land_once(
    tmp_path: Path, redis: RedisServer, store: SQLiteStore, workers: list[Worker]
) -> None:
    # given two online workers and 1,000 stored accounts
    env = worker_env(redis.url, tmp_path)
    workers += [Worker(n, "online", env, tmp_path) for n in ("on1", "on2")]
    for w in workers:
        w.wait_ready()
    accounts = [account_in(f"acct_{i:04d}", *own_cards(f"acct_{i:04d}"), channel="web") for i in range(1000)]
    store.upsert_accounts(accounts)
    ids = [a.id for a in accounts]
    dispatcher = CeleryDispatcher(settings_for(tmp_path, redis))

    # when a score is requested for each (and again for the first 100: a client retrying)
    try:
        task_ids = {dispatcher.score_async(i) for i in ids + ids[:100]}
        wait_for(lambda: scored(store, ids) == len(ids), 120, "every account scored", every=0.5)
        wait_for(lambda: dispatcher.queue_depth()["online"] == 0, 30, "the online queue to drain")
    finally:
        dispatcher.close()

    # then each account has exactly one current score and none is missing
    executed = sum(w.received("ringfence.score_account") for w in workers)
    accounts_scored = scored(store, ids)
    lost = len(ids) - accounts_scored
    per_worker = [w.received("ringfence.score_account") for w in workers]
    print(f"\n[1000 scores] accepted={len(task_ids)} executed={executed} "
          f"accounts_scored={accounts_scored} lost={lost} per_worker={per_worker}")
    assert len(task_ids) == 1100 and executed == 1100
    assert store.count_accounts() == accounts_scored == 1000  # one stored score per account (its key)
    assert lost == 0


def _rings(store: SQLiteStore) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(m) for m in store.current_rings().values())


def test_a_worker_killed_mid_sweep_is_redelivered_and_readers_never_see_a_partial_sweep(
    tmp_path: Path, redis: RedisServer, store: SQLiteStore, workers: list[Worker]
) -> None:
    settings = settings_for(tmp_path, redis)
    # given a published sweep of 20 rings, then 5 more rings ingested
    store.upsert_accounts(ring_world(rings=20, size=4, singles=200))
    run_sweep_job(store, settings, store.create_job("sweep").id, job_limit(settings))
    before = _rings(store)
    store.upsert_accounts(ring_world(rings=5, size=4, singles=0, prefix="new"))
    assert len(before) == 20

    # and two jobs workers whose sweeps stop at a barrier in the middle until the test releases them
    hold = SweepHold(tmp_path / "hold")
    env = worker_env(redis.url, tmp_path, **FAST_REDELIVERY, **hold.env)
    workers += [Worker(n, "jobs", env, tmp_path) for n in ("jobs1", "jobs2")]
    for w in workers:
        w.wait_ready()

    seen: set[frozenset[frozenset[str]]] = set()
    stop = threading.Event()

    def read() -> None:
        reader = SQLiteStore(tmp_path / "graph.db")
        while not stop.is_set():
            seen.add(_rings(reader))
            time.sleep(0.02)
        reader.close()

    reader_thread = threading.Thread(target=read, daemon=True)
    reader_thread.start()
    dispatcher = CeleryDispatcher(settings)
    try:
        # when the worker running the sweep is killed -9 (main process and pool) mid-sweep
        job = store.create_job("sweep")
        dispatcher.start_sweep(job.id)
        hold.wait_reached(1)
        assert store.get_job(job.id).status == "running"  # type: ignore[union-attr]
        victim = next(w for w in workers if w.received("ringfence.sweep"))
        survivor = next(w for w in workers if w is not victim)
        victim.kill9()
        killed_at = time.monotonic()
        assert store.get_job(job.id).status == "running"  # type: ignore[union-attr]

        # then the other worker gets the message after the visibility timeout and finishes it
        hold.wait_reached(2)
        hold.release()
        wait_for(lambda: store.get_job(job.id).status == "succeeded", 60, "the redelivered sweep")  # type: ignore[union-attr]
        took = time.monotonic() - killed_at
        time.sleep(0.3)  # let the reader see the published sweep too
    finally:
        stop.set()
        reader_thread.join()
        dispatcher.close()

    after = _rings(store)
    members = [m for ring in store.current_rings().values() for m in ring]
    redelivered = survivor.received("ringfence.sweep")
    partial = [s for s in seen if s not in (before, after)]
    print(f"\n[kill -9 mid-sweep] accepted=1 succeeded=1 redelivered={redelivered} "
          f"recovered_after={took:.1f}s reader_snapshots={len(seen)} partial={len(partial)} lost=0")
    assert redelivered == 1
    assert len(after) == 25 and before < after
    assert len(members) == len(set(members)) == 100, "a ring or a member is duplicated"
    assert not partial, "a reader saw a sweep that was neither the previous nor the next"
    assert store.get_job(job.id).error is None  # type: ignore[union-attr]


# The rescore beat's knobs for tests: ticks every second, re-queues scores unwritten after 3 s.
FAST_RESCORE = {"RINGFENCE_RESCORE_INTERVAL_S": "1", "RINGFENCE_RESCORE_AFTER_S": "3"}


def post_account(client: httpx.Client, account_id: str) -> httpx.Response:
    body = account_json(account_id, *own_cards(account_id, 3), channel="web")
    return client.post("/v1/accounts", params={"score": "async"}, json=body)


def test_a_redis_restart_during_an_ingest_burst_loses_nothing(
    tmp_path: Path, redis: RedisServer, store: SQLiteStore, workers: list[Worker]
) -> None:
    # given the API, an online worker and beat on one redis; the broker's own redelivery is
    # left at its production timeout (an hour), so whatever comes back here is the store's
    # safety net: the rescore beat re-queueing requested scores that were never written
    env = worker_env(redis.url, tmp_path, **FAST_RESCORE)
    workers += [Worker("online", "online", env, tmp_path, concurrency=2), Beat(env, tmp_path), ApiServer(env, tmp_path)]
    for w in workers:
        w.wait_ready()
    api = workers[2]
    assert isinstance(api, ApiServer)

    def client() -> httpx.Client:
        return httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {SCORE_KEY}"}, timeout=30)
    ids = [f"burst_{i:04d}" for i in range(600)]
    first: dict[str, httpx.Response] = {}

    local = threading.local()
    clients: list[httpx.Client] = []

    def ingest(account_id: str) -> None:
        if not hasattr(local, "client"):  # one keep-alive client per thread, like a real caller
            local.client = client()
            clients.append(local.client)
        first[account_id] = post_account(local.client, account_id)

    # when redis is down for a second while 600 requests arrive from 8 clients
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(ingest, i) for i in ids[:200]]:
            f.result()
        restart = pool.submit(redis.restart, 1.0)
        for f in [pool.submit(ingest, i) for i in ids[200:]]:
            f.result()
        restart.result()
    for c in clients:
        c.close()
    burst_s = time.monotonic() - started
    statuses = {i: r.status_code for i, r in first.items()}
    accepted = [i for i in ids if statuses[i] == 201]
    unqueued = [i for i in accepted if first[i].json()["job_id"] is None]
    refused = [i for i in ids if statuses[i] == 503]
    # a 503 is the contract's error, and it means nothing was stored
    for i in refused:
        error = first[i].json()["error"]
        assert error["code"] == "store_unavailable" and "broker" in error["message"]
    refused_but_stored = [i for i in refused if store.get_account(i) is not None]

    # and the clients that got 503 send the same body again once the API is ready
    with client() as c:
        wait_for(lambda: c.get("/readyz").status_code == 200, 30, "the API to be ready again")
        again = {i: post_account(c, i) for i in refused}
    retried = {i: r.status_code for i, r in again.items()}
    failed_again = sorted({r.text for r in again.values() if r.status_code != 201})

    # then every account is stored whole and scored
    try:
        wait_for(lambda: scored(store, ids) == len(ids), 60, "every account scored", every=0.5)
    finally:
        missing = [i for i in ids if store.get_score(i) is None]
        half_written = [i for i in ids if (a := store.get_account(i)) is None or len(a.links) != 3]
        executed = workers[0].received("ringfence.score_account")
        requeued = sum(int(n) for n in re.findall(r"rescore_pending: queued (\d+)", workers[0].text()))
        lost = [i for i in accepted if i in missing]
        print(f"\n[redis restart] requests=600 accepted={len(accepted)} (queued={len(accepted) - len(unqueued)} "
              f"stored_unqueued={len(unqueued)}) answered_503={len(refused)} "
              f"refused_but_stored={len(refused_but_stored)} "
              f"retried_ok={sum(v == 201 for v in retried.values())} "
              f"retried_statuses={dict(Counter(retried.values()))} succeeded={len(ids) - len(missing)} "
              f"executed={executed} redelivered={requeued} half_written={len(half_written)} lost={len(lost)} "
              f"burst={burst_s:.1f}s all_scored_after={time.monotonic() - started:.1f}s "
              f"failed_again={failed_again[:3]}")
    assert set(statuses.values()) <= {201, 503} and len(accepted) + len(refused) == 600
    assert all(v == 201 for v in retried.values())
    assert not refused_but_stored and not half_written
    assert not lost and not missing
    assert store.pending_scores(utcnow() + timedelta(seconds=1), 10) == []


def test_the_same_sweep_started_twice_runs_once(
    tmp_path: Path, redis: RedisServer, store: SQLiteStore, workers: list[Worker]
) -> None:
    settings = settings_for(tmp_path, redis)
    store.upsert_accounts(ring_world(rings=5, size=3, singles=10))
    hold = SweepHold(tmp_path / "hold")
    env = worker_env(redis.url, tmp_path, **hold.env)
    workers += [Worker(n, "jobs", env, tmp_path) for n in ("jobs1", "jobs2")]
    for w in workers:
        w.wait_ready()
    dispatcher = CeleryDispatcher(settings)
    try:
        # when two sweeps are started at once, and the first one's message is also duplicated
        first, second = store.create_job("sweep"), store.create_job("sweep")
        for job_id in (first.id, first.id, second.id):
            dispatcher.start_sweep(job_id)
        # and every message is handled while the sweep that runs is held at the barrier
        hold.wait_reached(1)
        wait_for(lambda: sum(w.received("ringfence.sweep") for w in workers) == 3
                 and dispatcher.queue_depth()["jobs"] == 0
                 and "failed" in {(store.get_job(x) or first).status for x in (first.id, second.id)},
                 60, "the duplicate and the second sweep to be handled")
        hold.release()
        jobs = wait_for(
            lambda: [j for j in (store.get_job(first.id), store.get_job(second.id)) if j and j.status in
                     ("succeeded", "failed")] if all(
                (store.get_job(x) or first).status in ("succeeded", "failed") for x in (first.id, second.id)) else None,
            60, "both jobs to finish")
        wait_for(lambda: dispatcher.queue_depth()["jobs"] == 0, 10, "the jobs queue to drain")
    finally:
        dispatcher.close()

    # then one ran and the other was refused with sweep_running
    statuses = sorted(j.status for j in jobs)
    received = sum(w.received("ringfence.sweep") for w in workers)
    sweeps = store.publication_counts()["sweeps"]
    print(f"\n[sweep twice] messages=3 received={received} succeeded={statuses.count('succeeded')} "
          f"sweep_running={statuses.count('failed')} published={sweeps}")
    assert statuses == ["failed", "succeeded"]
    refused = next(j for j in jobs if j.status == "failed")
    assert refused.error is not None and refused.error.startswith("sweep_running")
    assert sweeps == 1 and len(store.current_rings()) == 5
