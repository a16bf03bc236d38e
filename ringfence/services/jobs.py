"""Jobs: sweeps and training started by the API or the beat, run by a worker, recorded in the store.

This module owns a job's life: its status transitions (`queued` → `running` → `succeeded` or
`failed`, and back to `queued` for a retry after a transient error) are written here and only
here, and so is the sweep-lock handshake between the starter and the runner.

- `start_sweep` creates the job and takes the sweep lock *as the job* before queueing it: of two
  concurrent starts exactly one gets the lock, the other is refused (`SweepRunning`) and its job
  recorded as failed. The sweep re-takes the lock as the same owner (`services.sweeps`), so a
  redelivered message of the same job takes it over instead of failing.
- `job_guard` and `run_recorded` are what every job runner (`services.sweeps.run_sweep_job`,
  `services.training.run_train_job`) wraps its work in, so each is idempotent: a job that
  already finished is not run again, and a job runs in one place at a time (the lock
  `job:<id>`).
- Heartbeats: the owner of a running job renews its `job:<id>` lock, and a sweep the sweep lock,
  every third of `settings.sweep_lock_ttl_s` (`Heartbeat`, a thread). A worker killed with -9
  stops beating: its locks expire within the TTL, and `reap_lost_jobs` (run when a sweep is
  started, when a job is read and by the beat every minute) marks its job failed (`worker_lost`)
  and frees the sweep lock, so the next sweep starts within a minute.
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
from typing import TYPE_CHECKING, Any, TypeVar

from ringfence.core.errors import RingfenceError, StoreUnavailable, SweepRunning, Unavailable
from ringfence.core.settings import Settings
from ringfence.graph.model import Job, JobStatus
from ringfence.graph.store import JobStore

if TYPE_CHECKING:
    from ringfence.services.dispatch import Dispatcher

T = TypeVar("T")
log = logging.getLogger(__name__)
FINISHED: tuple[JobStatus, ...] = ("succeeded", "failed")
SWEEP_LOCK = "sweep"


# -- status transitions ------------------------------------------------------------------


def mark_running(store: JobStore, job_id: str) -> Job:
    return store.update_job(job_id, "running")


def mark_succeeded(store: JobStore, job_id: str, result: dict[str, Any]) -> Job:
    return store.update_job(job_id, "succeeded", result=_jsonable(result))


def mark_failed(store: JobStore, job_id: str, code: str, message: str) -> None:
    """Mark the job failed unless it finished meanwhile; best effort when the store is down."""
    try:
        job = store.get_job(job_id)
        if job is not None and job.status not in FINISHED:
            store.update_job(job_id, "failed", error=f"{code}: {message}")
    except StoreUnavailable:
        log.error("job %s failed (%s) but the store is unavailable to record it", job_id, code)


def mark_retrying(store: JobStore, job_id: str, exc: StoreUnavailable, final: bool) -> None:
    """Record a transient store error on the job: queued again for the retry, or failed if the last.

    The sweep may already have marked the job failed for this error; the retry must still run
    it, so anything short of success goes back to `queued`.
    """
    if final:
        mark_failed(store, job_id, exc.code, f"gave up after retries: {exc.message}")
        return
    try:
        job = store.get_job(job_id)
        if job is not None and job.status != "succeeded":
            store.update_job(job_id, "queued", error=f"{exc.code}: {exc.message} (retrying)")
    except StoreUnavailable:
        pass  # the store is what is down; the retry records the outcome


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, default=str))  # type: ignore[no-any-return]


# -- starting ----------------------------------------------------------------------------


def start_sweep(store: JobStore, settings: Settings, dispatcher: Dispatcher, trigger: str) -> Job:
    """Create a sweep job, take the sweep lock as that job and queue it.

    Raises `SweepRunning` (the job recorded as failed) if another sweep holds the lock, and the
    dispatcher's `Unavailable` (lock released, job failed) if the broker refuses the message.
    Jobs of dead workers are reaped first: their sweep lock does not block this one.
    """
    reap_lost_jobs(store, settings)
    job = store.create_job("sweep", {"trigger": trigger})
    if not store.acquire_lock(SWEEP_LOCK, owner=job.id, ttl_s=settings.sweep_lock_ttl_s):
        store.update_job(job.id, "failed", error="sweep_running: another sweep holds the lock")
        raise SweepRunning()
    try:
        dispatcher.start_sweep(job.id)
    except Unavailable as exc:
        store.release_lock(SWEEP_LOCK, job.id)
        store.update_job(job.id, "failed", error=f"{exc.code}: {exc.message}")
        raise
    return store.get_job(job.id) or job


def start_training(store: JobStore, dispatcher: Dispatcher, trigger: str) -> Job:
    """Create a training job and queue it; the dispatcher's `Unavailable` fails the job."""
    job = store.create_job("train", {"trigger": trigger})
    try:
        dispatcher.start_train(job.id)
    except Unavailable as exc:
        store.update_job(job.id, "failed", error=f"{exc.code}: {exc.message}")
        raise
    return store.get_job(job.id) or job


def schedule_sweep(store: JobStore, send: Callable[[str], object]) -> Job:
    """The beat's tick: a sweep job queued with `send` (the lock is the runner's to take)."""
    job = store.create_job("sweep", {"trigger": "schedule"})
    try:
        send(job.id)
    except Exception as exc:
        mark_failed(store, job.id, "broker_unavailable", str(exc))
        raise
    return job


# -- running -----------------------------------------------------------------------------


class Heartbeat:
    """Renews `locks` ((name, owner) pairs) every third of `ttl_s` from a daemon thread while the
    block runs; `lost` turns true if one was taken over (it had expired). A killed process stops
    beating, so its locks expire within `ttl_s`."""

    def __init__(self, store: JobStore, locks: list[tuple[str, str]], ttl_s: float) -> None:
        self.store, self.locks, self.ttl_s = store, locks, ttl_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="ringfence-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            for name, owner in self.locks:
                try:
                    if not self.store.acquire_lock(name, owner, self.ttl_s):
                        self.lost = True
                        log.error("lost the lock %s (held by %s)", name, owner)
                except Exception as exc:  # a store outage: beat again next time
                    log.warning("heartbeat of %s failed: %s", name, type(exc).__name__)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


WORKER_LOST = "worker_lost"


def reap_lost_jobs(store: JobStore, settings: Settings, only: str | None = None) -> list[str]:
    """Mark failed (`worker_lost`) every running job (or just `only`) whose owner stopped
    beating, and free the sweep lock it held; the ids of those jobs.

    A running job's owner holds `job:<id>` and renews it (`Heartbeat`): if this call can take
    that lock, the owner is gone. Best effort: a store outage reaps nothing."""
    lost: list[str] = []
    try:
        running = [only] if only is not None else store.job_ids("running")
    except StoreUnavailable:
        return lost
    for job_id in running:
        probe = f"reaper:{uuid.uuid4().hex[:8]}"
        if not store.acquire_lock(f"job:{job_id}", probe, ttl_s=settings.sweep_lock_ttl_s):
            continue  # its owner is alive
        try:
            job = store.get_job(job_id)
            if job is not None and job.status == "running":
                store.update_job(job_id, "failed", error=f"{WORKER_LOST}: the worker running it stopped beating")
                if job.kind == "sweep":
                    store.release_lock(SWEEP_LOCK, job_id)
                log.warning("job %s (%s): worker lost; marked failed", job_id, job.kind)
                lost.append(job_id)
        finally:
            store.release_lock(f"job:{job_id}", probe)
    return lost


@contextmanager
def job_guard(store: JobStore, job_id: str, ttl_s: float) -> Iterator[bool]:
    """Yield whether this process may run the job: it exists, is unfinished, runs nowhere else.

    The job's lock has a short TTL (`settings.sweep_lock_ttl_s`), renewed by a `Heartbeat`
    while the job runs: a redelivery after a crashed worker, or the reaper, finds it expired.
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
        with Heartbeat(store, [(f"job:{job_id}", owner)], ttl_s):
            yield True
    finally:
        try:
            store.release_lock(f"job:{job_id}", owner)
        except StoreUnavailable:
            log.warning("could not release job:%s; it expires in %.0fs", job_id, ttl_s)


class TimeLimitExceeded(Exception):
    """What a runner raises when the job ran past its limit (Celery's soft limit maps to it)."""


def run_recorded(
    store: JobStore,
    job_id: str,
    what: str,
    limit: float,
    work: Callable[[], T],
    refused: tuple[type[RingfenceError], ...] = (),
    time_limit: tuple[type[BaseException], ...] = (TimeLimitExceeded,),
) -> T | dict[str, Any]:
    """Run a job's work, recording how it ended if it did not succeed.

    A refusal (`refused`) fails the job and is answered, not retried. Transient store errors
    pass untouched so the caller retries them; a time-out or a crash fails the job and propagates.
    """
    try:
        return work()
    except refused as exc:
        mark_failed(store, job_id, exc.code, exc.message)
        return {"job_id": job_id, "error": exc.code}
    except StoreUnavailable:
        raise
    except time_limit:
        mark_failed(store, job_id, "time_limit", f"{what} ran past its {limit:.0f}s limit")
        raise
    except Exception as exc:
        mark_failed(store, job_id, "internal", f"{type(exc).__name__}: {exc}")
        raise
