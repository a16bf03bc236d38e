"""How the API hands work to workers: through a Celery broker, or to threads in-process.

`get_dispatcher(settings)` picks `CeleryDispatcher` when `RINGFENCE_BROKER_URL` is set and
`InProcessDispatcher` (the embedded mode, no broker) otherwise. Both run the same task
functions of `workers.tasks`; a broker that does not answer is `StoreUnavailable`, which
the API turns into 503.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from ringfence.graph.store import GraphStore
from ringfence.workers.app import JOBS, ONLINE, TASK_QUEUES

from ringfence.core.errors import StoreUnavailable
from ringfence.core.settings import Settings

log = logging.getLogger(__name__)
_RECHECK_S = 1.0


@runtime_checkable
class Dispatcher(Protocol):
    def score_async(self, account_id: str) -> str:
        """Queue a score of one account; returns the task id."""

    def start_sweep(self, job_id: str) -> str:
        """Queue the sweep of an existing job record; returns the task id."""

    def start_train(self, job_id: str) -> str:
        """Queue the training of an existing job record; returns the task id."""

    def ping(self) -> None:
        """Return if the broker answers, else raise `StoreUnavailable`."""

    def ensure_available(self) -> None:
        """Raise `StoreUnavailable` if the broker is known to be down; cheap while it is up."""

    def queue_depth(self) -> dict[str, int]:
        """Messages waiting per queue, best effort (missing queues count 0)."""

    def close(self) -> None: ...


def get_dispatcher(settings: Settings, store: GraphStore | None = None) -> Dispatcher:
    """The dispatcher for `settings`; `store` is shared with in-process tasks when given."""
    if settings.broker_url:
        return CeleryDispatcher(settings)
    return InProcessDispatcher(settings, store)


class InProcessDispatcher:
    """Runs the task functions on threads: scores on one pool, long jobs on another.

    Transient store errors are retried with backoff like the Celery tasks; other errors are
    logged (jobs record them in their job record). Work queued here is lost with the
    process, which is what the embedded mode accepts.
    """

    def __init__(
        self, settings: Settings, store: GraphStore | None = None, score_threads: int = 2, job_threads: int = 2
    ) -> None:
        self._settings = settings
        self._store = store
        self._pools = {
            ONLINE: ThreadPoolExecutor(score_threads, thread_name_prefix="score"),
            JOBS: ThreadPoolExecutor(job_threads, thread_name_prefix="job"),
        }
        self._waiting = {ONLINE: 0, JOBS: 0}
        self._lock = threading.Lock()
        self._jobs: dict[Future[Any], str] = {}

    def _get_store(self) -> GraphStore:
        from ringfence.workers.tasks import worker_store

        return self._store or worker_store()

    def _submit(self, queue: str, work: Callable[[GraphStore, Settings, str], Any], item: str) -> Future[Any]:
        with self._lock:
            self._waiting[queue] += 1

        def run() -> Any:
            with self._lock:
                self._waiting[queue] -= 1
            return _with_retries(lambda: work(self._get_store(), self._settings, item))

        future = self._pools[queue].submit(run)
        future.add_done_callback(_log_failure)
        return future

    def score_async(self, account_id: str) -> str:
        from ringfence.workers.tasks import score_one

        self._submit(ONLINE, score_one, account_id)
        return uuid.uuid4().hex

    def _start_job(self, work: Callable[[GraphStore, Settings, str], Any], job_id: str) -> str:
        future = self._submit(JOBS, work, job_id)
        with self._lock:
            self._jobs[future] = job_id
        future.add_done_callback(self._forget)
        return uuid.uuid4().hex

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._jobs.pop(future, None)

    def start_sweep(self, job_id: str) -> str:
        from ringfence.workers.tasks import sweep_job

        return self._start_job(sweep_job, job_id)

    def start_train(self, job_id: str) -> str:
        from ringfence.workers.tasks import train_job

        return self._start_job(train_job, job_id)

    def ping(self) -> None:
        return None

    def ensure_available(self) -> None:
        return None

    def queue_depth(self) -> dict[str, int]:
        with self._lock:
            return dict(self._waiting)

    def close(self) -> None:
        """Let running work finish; jobs that never started are marked failed."""
        from ringfence.workers.tasks import _fail

        with self._lock:
            jobs = dict(self._jobs)
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        cancelled = [job_id for future, job_id in jobs.items() if future.cancelled()]
        for job_id in cancelled:
            _fail(self._get_store(), job_id, "cancelled", "the server stopped before the job started")
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


class CeleryDispatcher:
    """Sends tasks by name to their queue on the broker; never imports the tasks."""

    def __init__(self, settings: Settings) -> None:
        from ringfence.workers.app import make_celery

        self._app = make_celery(settings)
        conn = self._app.connection_for_write()
        # What a dead or restarting broker raises: kombu's wrapper plus the transport's own.
        self._errors: tuple[type[BaseException], ...] = (
            OSError,
            *conn.connection_errors,
            *conn.channel_errors,
            *_kombu_errors(),
        )
        conn.release()
        # Set when a send fails: until then `ensure_available` costs nothing, afterwards it
        # answers from memory for a second, then pings (at most one ping a second).
        self._down_until: float | None = None
        self._down_lock = threading.Lock()

    def _send(self, name: str, arg: str) -> str:
        try:
            result = self._app.send_task(name, args=[arg], queue=TASK_QUEUES[name])
        except self._errors as exc:
            self._mark_down()
            raise StoreUnavailable(f"broker unavailable: {exc}") from exc
        return str(result.id)

    def _mark_down(self) -> None:
        with self._down_lock:
            self._down_until = time.monotonic() + _RECHECK_S

    def ensure_available(self) -> None:
        with self._down_lock:
            down_until = self._down_until
            if down_until is None:
                return
            if time.monotonic() < down_until:
                raise StoreUnavailable("broker unavailable: the message broker is not answering; retry shortly")
            self._down_until = time.monotonic() + _RECHECK_S  # one request pings; the others wait
        try:
            self.ping()
        except StoreUnavailable:
            self._mark_down()
            raise

    def score_async(self, account_id: str) -> str:
        return self._send("ringfence.score_account", account_id)

    def start_sweep(self, job_id: str) -> str:
        return self._send("ringfence.sweep", job_id)

    def start_train(self, job_id: str) -> str:
        return self._send("ringfence.train", job_id)

    def _connect(self) -> Any:
        """A fresh broker connection, established with one quick attempt."""
        conn = self._app.connection_for_read()
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1, timeout=2)
            conn.default_channel  # noqa: B018 - opening a channel is the round trip (Redis: PING)
        except self._errors as exc:
            conn.release()
            raise StoreUnavailable(f"broker unavailable: {exc}") from exc
        return conn

    def ping(self) -> None:
        self._connect().release()
        # A broker that answers is up: forget a remembered failure, so that writes are accepted
        # as soon as /readyz (which pings) says so, not up to a second later.
        with self._down_lock:
            self._down_until = None

    def queue_depth(self) -> dict[str, int]:
        depth = dict.fromkeys((ONLINE, JOBS), 0)
        try:
            conn = self._connect()
        except StoreUnavailable as exc:
            log.debug("queue depth unavailable: %s", exc)
            return depth
        try:
            for queue in depth:
                try:
                    depth[queue] = int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
                except conn.channel_errors:
                    pass  # Redis: an empty queue is no key at all; AMQP: not declared yet
        except self._errors as exc:
            log.debug("queue depth unavailable: %s", exc)
        finally:
            conn.release()
        return depth

    def close(self) -> None:
        self._app.close()


def _kombu_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError

    return (OperationalError,)
