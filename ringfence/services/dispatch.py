"""How use cases hand work to workers: the `Dispatcher` interface and its in-process adapter.

Two adapters implement it: `InProcessDispatcher` here (the embedded mode: the same job and
score functions on threads of this process) and `workers.dispatch.CeleryDispatcher` (tasks
sent by name to a Celery broker). The API picks one from settings (`api.app`). A broker that
does not answer is `BrokerUnavailable`, which the API answers as 503.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from ringfence.core.errors import StoreUnavailable
from ringfence.core.settings import Settings
from ringfence.graph.store import GraphStore
from ringfence.services.jobs import mark_failed
from ringfence.services.scoring import score_one
from ringfence.services.sweeps import run_sweep_job
from ringfence.services.training import run_train_job

log = logging.getLogger(__name__)
ONLINE = "online"  # onboarding scores: milliseconds each, never behind a sweep
JOBS = "jobs"  # sweeps and training: minutes to an hour
QUEUES = (ONLINE, JOBS)


@runtime_checkable
class Dispatcher(Protocol):
    def score_async(self, account_id: str) -> str:
        """Queue a score of one account; returns the task id."""

    def start_sweep(self, job_id: str) -> str:
        """Queue the sweep of an existing job record; returns the task id."""

    def start_train(self, job_id: str) -> str:
        """Queue the training of an existing job record; returns the task id."""

    def ping(self) -> None:
        """Return if the broker answers, else raise `BrokerUnavailable`."""

    def ensure_available(self) -> None:
        """Raise `BrokerUnavailable` if the broker is known to be down; cheap while it is up."""

    def queue_depth(self) -> dict[str, int]:
        """Messages waiting per queue, best effort (missing queues count 0)."""

    def close(self) -> None: ...


DEFAULT_JOB_LIMIT_S = 3600.0


def job_limit(settings: Settings) -> float:
    """How long a sweep or training job may run: `job_time_limit_s`, by default `DEFAULT_JOB_LIMIT_S`.
    The locks a job holds are short and renewed by its heartbeat (`services.jobs.Heartbeat`), so
    the limit no longer has to match a lock's TTL."""
    return settings.job_time_limit_s or DEFAULT_JOB_LIMIT_S


class InProcessDispatcher:
    """Runs the job and score functions on threads: scores on one pool, long jobs on another.

    Transient store errors are retried with backoff like the Celery tasks; other errors are
    logged (jobs record them in their job record). Work queued here is lost with the
    process, which is what the embedded mode accepts.
    """

    def __init__(self, settings: Settings, store: GraphStore, score_threads: int = 2, job_threads: int = 2) -> None:
        self._settings = settings
        self._store = store
        self._pools = {
            ONLINE: ThreadPoolExecutor(score_threads, thread_name_prefix="score"),
            JOBS: ThreadPoolExecutor(job_threads, thread_name_prefix="job"),
        }
        self._waiting = {ONLINE: 0, JOBS: 0}
        self._lock = threading.Lock()
        self._jobs: dict[Future[Any], str] = {}

    def _submit(self, queue: str, work: Callable[[], Any]) -> Future[Any]:
        with self._lock:
            self._waiting[queue] += 1

        def run() -> Any:
            with self._lock:
                self._waiting[queue] -= 1
            return _with_retries(work)

        future = self._pools[queue].submit(run)
        future.add_done_callback(_log_failure)
        return future

    def score_async(self, account_id: str) -> str:
        self._submit(ONLINE, lambda: score_one(self._store, self._settings, account_id))
        return uuid.uuid4().hex

    def _start_job(self, work: Callable[..., Any], job_id: str) -> str:
        limit = job_limit(self._settings)
        future = self._submit(JOBS, lambda: work(self._store, self._settings, job_id, limit))
        with self._lock:
            self._jobs[future] = job_id
        future.add_done_callback(self._forget)
        return uuid.uuid4().hex

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._jobs.pop(future, None)

    def start_sweep(self, job_id: str) -> str:
        return self._start_job(run_sweep_job, job_id)

    def start_train(self, job_id: str) -> str:
        return self._start_job(run_train_job, job_id)

    def ping(self) -> None:
        return None

    def ensure_available(self) -> None:
        return None

    def queue_depth(self) -> dict[str, int]:
        with self._lock:
            return dict(self._waiting)

    def close(self) -> None:
        """Let running work finish; jobs that never started are marked failed."""
        with self._lock:
            jobs = dict(self._jobs)
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        for future, job_id in jobs.items():
            if future.cancelled():
                mark_failed(self._store, job_id, "cancelled", "the server stopped before the job started")
        for pool in self._pools.values():
            pool.shutdown(wait=True)


def _with_retries(call: Callable[[], Any], attempts: int = 4, first_delay: float = 0.2) -> Any:
    delay = first_delay
    for attempt in range(attempts):
        try:
            return call()
        except StoreUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay *= 4
    return None


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("in-process task failed", exc_info=future.exception())
