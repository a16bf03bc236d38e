"""The tasks: each takes ids, loads what it needs and hands off to `gnn` or `workers.sweep`.

The work is in plain functions that take the store (`score_one`, `sweep_job`, `train_job`);
the Celery tasks wrap them with their worker process's store, and the in-process
dispatcher calls them directly. Each is idempotent, so a redelivered or duplicated
message leaves the state that one run leaves:
- a score is written through the store's `as_of` guard, so a score computed from an older
  view of the graph never replaces one from a newer view;
- a job that already finished is not run again, and a job runs in one place at a time
  (the lock `job:<id>`); the sweep lock itself is owned by the job id, so a redelivered
  sweep of the same job takes it over instead of failing.
Heavy modules (torch) are imported on first use: the API imports this module too.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init, worker_process_shutdown
from ringfence.graph.factory import open_store
from ringfence.graph.model import utcnow
from ringfence.graph.store import GraphStore
from ringfence.workers.app import JOBS, ONLINE, WorkerLimits, app

from ringfence.core.errors import InvalidInput, NotFound, RingfenceError, StoreUnavailable, SweepRunning
from ringfence.core.settings import Settings, get_settings

T = TypeVar("T")

log = logging.getLogger(__name__)
FINISHED = ("succeeded", "failed")

# -- the store of this process ---------------------------------------------------------

_store: GraphStore | None = None
_store_guard = threading.Lock()


def worker_store() -> GraphStore:
    """This process's store, opened on first use (never before the pool forks)."""
    global _store
    with _store_guard:
        if _store is None:
            _store = open_store(get_settings())
        return _store


@worker_init.connect
def _preload_models(**_: Any) -> None:
    # Import torch and the scorer once in the worker's main process, before the pool forks:
    # every pool process then starts warm instead of spending ~10 s on its first score.
    # Importing is fork-safe; nothing here starts threads or opens connections.
    import ringfence.gnn.score  # noqa: F401


@worker_process_init.connect
def _forget_inherited_store(**_: Any) -> None:
    # A forked child must not share the parent's connections (SQLite handles, Bolt sockets).
    global _store
    _store = None


@worker_process_shutdown.connect
def _close_store(**_: Any) -> None:
    global _store
    with _store_guard:
        if _store is not None:
            _store.close()
            _store = None


# -- the work ---------------------------------------------------------------------------


def score_one(store: GraphStore, settings: Settings, account_id: str) -> dict[str, Any]:
    """Score one account with the active model and store it unless a newer score exists."""
    from ringfence.gnn.score import current_scorer  # loads the active model once per process

    try:
        scores = current_scorer(settings).score_accounts(store, [account_id])
    except NotFound:
        log.warning("score_account: account %s does not exist; nothing to score", account_id)
        return {"account_id": account_id, "written": 0}
    written = store.write_scores(scores)
    risk = scores[0].risk if scores else None
    return {"account_id": account_id, "risk": risk, "written": written}


@contextmanager
def _job_guard(store: GraphStore, job_id: str, ttl_s: float) -> Iterator[bool]:
    """Yield whether this process may run the job: it exists, is unfinished, runs nowhere else.

    The lock's TTL is the job's time limit, which the broker's visibility timeout exceeds:
    a redelivery after a crashed worker finds the dead worker's lock expired.
    """
    job = store.get_job(job_id)
    if job is None:
        log.warning("job %s does not exist; dropping the message", job_id)
        yield False
        return
    if job.status in FINISHED:
        log.info("job %s already %s; nothing to do", job_id, job.status)
        yield False
        return
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not store.acquire_lock(f"job:{job_id}", owner, ttl_s):
        log.info("job %s is running elsewhere; dropping the duplicate message", job_id)
        yield False
        return
    try:
        yield True
    finally:
        try:
            store.release_lock(f"job:{job_id}", owner)
        except StoreUnavailable:
            log.warning("could not release job:%s; it expires in %.0fs", job_id, ttl_s)


def _fail(store: GraphStore, job_id: str, code: str, message: str) -> None:
    """Mark the job failed unless it finished meanwhile; best effort when the store is down."""
    try:
        job = store.get_job(job_id)
        if job is not None and job.status not in FINISHED:
            store.update_job(job_id, "failed", error=f"{code}: {message}")
    except StoreUnavailable:
        log.error("job %s failed (%s) but the store is unavailable to record it", job_id, code)


def _job_limit(settings: Settings) -> float:
    return WorkerLimits(settings).job_limit(settings)


def _run_recorded(
    store: GraphStore,
    job_id: str,
    what: str,
    limit: float,
    work: Callable[[], T],
    refused: tuple[type[RingfenceError], ...] = (),
) -> T | dict[str, Any]:
    """Run a job's work, recording how it ended if it did not succeed.

    A refusal (`refused`) fails the job and is answered, not retried. Transient store errors
    pass untouched so the task retries them; a time-out or a crash fails the job and propagates.
    """
    try:
        return work()
    except refused as exc:
        _fail(store, job_id, exc.code, exc.message)
        return {"job_id": job_id, "error": exc.code}
    except StoreUnavailable:
        raise
    except SoftTimeLimitExceeded:
        _fail(store, job_id, "time_limit", f"{what} ran past its {limit:.0f}s limit")
        raise
    except Exception as exc:
        _fail(store, job_id, "internal", f"{type(exc).__name__}: {exc}")
        raise


def sweep_job(store: GraphStore, settings: Settings, job_id: str) -> dict[str, Any]:
    """Run the sweep of job `job_id`; `run_sweep` records running/succeeded/failed."""
    from ringfence.workers.sweep import run_sweep

    limit = _job_limit(settings)
    with _job_guard(store, job_id, limit) as mine:
        if not mine:
            return {"job_id": job_id, "skipped": True}
        # Another job holding the sweep lock refuses this one; it is not postponed.
        result = _run_recorded(
            store, job_id, "the sweep", limit, lambda: run_sweep(store, settings, job_id=job_id), (SweepRunning,)
        )
        if isinstance(result, dict):
            return result
    return {"job_id": job_id, "sweep_id": result.sweep_id}


def train_job(store: GraphStore, settings: Settings, job_id: str) -> dict[str, Any]:
    """Train (and activate) a model for job `job_id`, recording the job's progress."""
    from ringfence.gnn.train import train as train_model

    limit = _job_limit(settings)
    with _job_guard(store, job_id, limit) as mine:
        if not mine:
            return {"job_id": job_id, "skipped": True}
        store.update_job(job_id, "running")
        report = _run_recorded(
            store, job_id, "training", limit, lambda: train_model(store, settings, seed=settings.seed), (InvalidInput,)
        )
        if isinstance(report, dict):
            return report
        result = {"version": report.version, **_jsonable(getattr(report, "metrics", None), "metrics")}
        store.update_job(job_id, "succeeded", result=result)
    return {"job_id": job_id, "version": report.version}


def _jsonable(value: object, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    return {key: json.loads(json.dumps(value, default=str))}


def requeue_after_transient(store: GraphStore, job_id: str, exc: StoreUnavailable, final: bool) -> None:
    """Record a transient store error on the job: queued again for the retry, or failed if the last.

    `run_sweep` may already have marked the job failed for this error; the retry must still
    run it, so anything short of success goes back to `queued`.
    """
    if final:
        _fail(store, job_id, exc.code, f"gave up after retries: {exc.message}")
        return
    try:
        job = store.get_job(job_id)
        if job is not None and job.status != "succeeded":
            store.update_job(job_id, "queued", error=f"{exc.code}: {exc.message} (retrying)")
    except StoreUnavailable:
        pass  # the store is what is down; the retry records the outcome


# -- the Celery tasks ------------------------------------------------------------------
# Retries only for transient store errors (StoreUnavailable: SQLite busy, Neo4j
# TransientError/ServiceUnavailable), with exponential backoff and jitter.


@app.task(
    name="ringfence.score_account",
    queue=ONLINE,
    autoretry_for=(StoreUnavailable,),
    max_retries=8,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
)
def score_account(account_id: str) -> dict[str, Any]:
    return score_one(worker_store(), get_settings(), account_id)


@app.task(name="ringfence.sweep", queue=JOBS, bind=True, max_retries=5)
def sweep(self: Task, job_id: str) -> dict[str, Any]:
    return _run_job(self, sweep_job, job_id)


@app.task(name="ringfence.train", queue=JOBS, bind=True, max_retries=5)
def train(self: Task, job_id: str) -> dict[str, Any]:
    return _run_job(self, train_job, job_id)


def _run_job(task: Task, work: Any, job_id: str) -> dict[str, Any]:
    try:
        store = worker_store()
        return work(store, get_settings(), job_id)  # type: ignore[no-any-return]
    except StoreUnavailable as exc:
        final = task.request.retries >= (task.max_retries or 0)
        if _store is not None:
            requeue_after_transient(_store, job_id, exc, final)
        if final:
            raise
        countdown = min(300, 5 * 2**task.request.retries)
        raise task.retry(exc=exc, countdown=countdown) from exc


def rescore_due(store: GraphStore, settings: Settings, send: Callable[[str], object]) -> int:
    """Queue again (with `send`) the scores requested long ago and never written; returns how many.

    The store records each requested score in the transaction that stores the account, so
    a score the broker lost is still listed here. "Long ago" (`rescore_after_s`) is far
    beyond a normal queue wait; a duplicate is harmless anyway (scores are idempotent).
    """
    due = utcnow() - timedelta(seconds=settings.rescore_after_s)
    ids = store.pending_scores(due, settings.rescore_batch)
    for account_id in ids:
        send(account_id)
    if ids:
        log.warning("rescore_pending: queued %d score(s) requested before %s and never written", len(ids), due)
    return len(ids)


# No retries: a store or broker error waits for the next tick, which asks again.
@app.task(name="ringfence.rescore_pending", queue=ONLINE)
def rescore_pending() -> dict[str, Any]:
    """Beat's safety net under the broker: see `rescore_due`."""
    requeued = rescore_due(worker_store(), get_settings(), lambda account_id: score_account.apply_async([account_id]))
    return {"requeued": requeued}


@app.task(name="ringfence.scheduled_sweep", queue=JOBS)
def scheduled_sweep() -> dict[str, Any]:
    """Beat's tick: create a sweep job and queue it like `POST /v1/sweeps` does.

    The long work then runs under a job id that stays the same across redeliveries.
    """
    store = worker_store()
    job = store.create_job("sweep", {"trigger": "schedule"})
    try:
        sweep.apply_async(args=[job.id])
    except Exception as exc:
        _fail(store, job.id, "broker_unavailable", str(exc))
        raise
    return {"job_id": job.id}
