"""The store contract for `JobStore`: jobs and locks.

Every test runs on each backend (the `store` fixture) with identical assertions.
"""

from __future__ import annotations

import threading

from ringfence.graph.store import GraphStore
from tests.support.builders import at


def test_jobs_record_their_lifecycle(store: GraphStore) -> None:
    job = store.create_job("sweep", {"why": "test"})
    assert job.status == "queued" and job.started_at is None
    running = store.update_job(job.id, "running")
    assert running.status == "running" and running.started_at is not None and running.finished_at is None
    done = store.update_job(job.id, "succeeded", {"rings": 3})
    assert done.status == "succeeded" and done.result == {"rings": 3} and done.finished_at is not None
    got = store.get_job(job.id)
    assert got == done and got.params == {"why": "test"}
    failed = store.update_job(store.create_job("train").id, "failed", error="boom")
    assert failed.error == "boom" and failed.kind == "train"
    assert store.get_job("nope") is None
    store.create_job("sweep")
    assert store.count_jobs() == {("sweep", "succeeded"): 1, ("sweep", "queued"): 1, ("train", "failed"): 1}


def test_locks_are_exclusive_reentrant_and_expire(store: GraphStore) -> None:
    assert store.acquire_lock("sweep", "w1", 60, now=at(0))
    assert store.acquire_lock("sweep", "w1", 60, now=at(0.5))
    assert not store.acquire_lock("sweep", "w2", 60, now=at(0.5))
    assert store.acquire_lock("sweep", "w2", 60, now=at(2))  # w1's lease ran out
    store.release_lock("sweep", "w1")  # not the owner: no effect
    assert not store.acquire_lock("sweep", "w3", 60, now=at(2.1))
    store.release_lock("sweep", "w2")
    assert store.acquire_lock("sweep", "w3", 60, now=at(2.2))


def test_only_one_of_many_concurrent_lockers_wins(store: GraphStore) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(4)

    def take(owner: str) -> None:
        barrier.wait()
        if store.acquire_lock("race", owner, 60):
            winners.append(owner)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_job_ids_lists_jobs_by_status_oldest_first(store: GraphStore) -> None:
    first, second, third = (store.create_job("sweep") for _ in range(3))
    for job in (first, second):
        store.update_job(job.id, "running")
    assert store.job_ids("running") == [first.id, second.id]
    assert store.job_ids("running", limit=1) == [first.id]
    assert store.job_ids("queued") == [third.id] and store.job_ids("failed") == []
