# ruff: noqa: F811  (the fixtures imported from tests.support.worker_fixtures are parameters here)
"""Sharded sweeps on real Celery worker processes and a real redis-server (SQLite store).

The coordinator (`ringfence.sweep`) partitions and sends one `ringfence.sweep_shard` per shard and
a `ringfence.sweep_finish`; see `ringfence.services.shard_jobs`. Workers are stopped mid-shard at
a barrier (`tests.support.launchers.SweepHold`), never in a sleep window.
"""

from __future__ import annotations

import re
from pathlib import Path

from ringfence.core.settings import Settings
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.services.dispatch import job_limit
from ringfence.services.sweeps import run_sweep_job
from ringfence.workers.dispatch import CeleryDispatcher
from tests.support.builders import ring_world
from tests.support.launchers import SHARD_FAIL_ENV, RedisServer, SweepHold, Worker, wait_for
from tests.support.settings import worker_env
from tests.support.worker_fixtures import FAST_REDELIVERY, redis, store, workers  # noqa: F401  (fixtures)

SHARDED = {
    "RINGFENCE_SWEEP_SHARD_LINKS": "40",  # about 16 shards of the world below
    "RINGFENCE_SWEEP_SHARD_ATTEMPTS": "2",
    **FAST_REDELIVERY,
}


def _settings(tmp_path: Path, redis: RedisServer) -> Settings:
    return Settings(data_dir=tmp_path / "data", graph_url=f"sqlite:///{tmp_path / 'graph.db'}", broker_url=redis.url)


def _world(store: SQLiteStore, settings: Settings) -> frozenset[frozenset[str]]:
    """20 rings (published by a single-process sweep) and 5 more ingested after it."""
    store.upsert_accounts(ring_world(rings=20, size=4, singles=200))
    run_sweep_job(store, settings, store.create_job("sweep").id, job_limit(settings))
    before = frozenset(frozenset(m) for m in store.current_rings().values())
    store.upsert_accounts(ring_world(rings=5, size=4, singles=0, prefix="new"))
    return before


def _sweeps(store: SQLiteStore) -> int:
    return int(store._read("SELECT count(*) FROM sweeps")[0][0])


def _task_ids(worker: Worker, verb: str) -> set[str]:
    return set(re.findall(rf"Task ringfence\.sweep_shard\[([0-9a-f-]+)\] {verb}", worker.text()))


def test_a_worker_killed_mid_shard_is_redelivered_and_the_sweep_publishes_once(
    tmp_path: Path, redis: RedisServer, store: SQLiteStore, workers: list[Worker]
) -> None:
    settings = _settings(tmp_path, redis)
    before = _world(store, settings)
    hold = SweepHold(tmp_path / "hold")
    env = worker_env(redis.url, tmp_path, **SHARDED, RINGFENCE_TEST_SHARD_HOLD=str(hold.dir))
    workers += [Worker(n, "jobs", env, tmp_path) for n in ("jobs1", "jobs2")]
    for w in workers:
        w.wait_ready()
    dispatcher = CeleryDispatcher(settings)
    try:
        # given a sharded sweep whose first shards stop, computed but not staged, in both workers
        job = store.create_job("sweep")
        dispatcher.start_sweep(job.id)
        hold.wait_reached(2)
        sweeps_before = _sweeps(store)
        # when one worker is killed -9 (main process and pool) in the middle of its shard
        victim, survivor = workers
        victim.kill9()
        lost = _task_ids(victim, "received") - _task_ids(victim, "succeeded")
        hold.release()
        # then the other worker gets that shard again and the sweep is published once
        wait_for(lambda: store.get_job(job.id).status in ("succeeded", "failed"), 120,  # type: ignore[union-attr]
                 "the sharded sweep")
    finally:
        dispatcher.close()
    done = store.get_job(job.id)
    assert done is not None and done.status == "succeeded", done
    assert len(lost) == 1 and lost <= _task_ids(survivor, "succeeded"), "the killed shard was not redelivered"
    assert _sweeps(store) == sweeps_before + 1
    published = store.current_sweep()
    assert published is not None and published.sweep_id == done.result["sweep_id"]  # type: ignore[index]
    # the workers' figures reach the published stats: the coordinator's, each shard's, the finish's
    assert published.stats["partition_figures"]["peak_rss_mb"] > 0
    assert published.stats["shard_figures"]["count"] == done.result["shards"]  # type: ignore[index]
    assert published.stats["shard_figures"]["peak_rss_mb_max"] > 0
    assert published.stats["finish_figures"]["cpu_s"] >= 0
    rings = store.current_rings()
    members = [m for ms in rings.values() for m in ms]
    assert len(rings) == 25 and before < frozenset(frozenset(m) for m in rings.values())
    assert len(members) == len(set(members)) == 100, "a ring or a member is duplicated"
    assert store.shard_statuses(done.result["sweep_id"]) == {}  # type: ignore[index]
    print(f"\n[kill -9 mid-shard] shards={done.result['shards']} redelivered={len(lost)} published=1")  # type: ignore[index]


def test_a_shard_that_keeps_failing_fails_the_job_and_nothing_is_published(
    tmp_path: Path, redis: RedisServer, store: SQLiteStore, workers: list[Worker]
) -> None:
    settings = _settings(tmp_path, redis)
    before = _world(store, settings)
    current = store.current_sweep()
    env = worker_env(redis.url, tmp_path, **SHARDED, **{SHARD_FAIL_ENV: "2"})
    workers.append(Worker("jobs1", "jobs", env, tmp_path).wait_ready())
    dispatcher = CeleryDispatcher(settings)
    try:
        job = store.create_job("sweep")
        dispatcher.start_sweep(job.id)
        wait_for(lambda: store.get_job(job.id).status in ("succeeded", "failed"), 120,  # type: ignore[union-attr]
                 "the sharded sweep to end")
    finally:
        dispatcher.close()
    failed = store.get_job(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "shard 2 " in failed.error and "fails on purpose" in failed.error
    assert workers[0].count(r"Task ringfence\.sweep_shard\[[0-9a-f-]+\] retry") == 1  # 2 attempts
    assert store.current_sweep() == current
    assert frozenset(frozenset(m) for m in store.current_rings().values()) == before
    assert int(store._read("SELECT count(*) FROM sweep_shards")[0][0]) == 0
    # and the sweep lock is free again
    assert store.acquire_lock("sweep", "probe", ttl_s=5)
