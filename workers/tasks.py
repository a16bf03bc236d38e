"""The Celery tasks: thin adapters that take ids and hand off to `services`.

Each task runs a use case with its worker process's store (`worker_store`) and declares its
queue; only transient store errors (`StoreUnavailable`: SQLite busy, Neo4j
TransientError/ServiceUnavailable) are retried, with backoff. The work is idempotent (see
`services.jobs`, `services.scoring.score_one`), so a redelivered or duplicated message leaves
the state one run leaves. Tasks are `shared_task`s: they bind to the app of the process that
runs them (`workers.celery.app`), and producers send them by name without importing this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init, worker_process_shutdown

from ringfence.core.errors import StoreUnavailable
from ringfence.core.settings import Settings, get_settings
from ringfence.graph.factory import open_store
from ringfence.graph.store import GraphStore
from ringfence.services import jobs, scoring, shard_jobs
from ringfence.services.sweeps import run_sweep_job
from ringfence.services.training import run_train_job
from ringfence.workers.app import JOBS, ONLINE, WorkerLimits

log = logging.getLogger(__name__)

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
    from ringfence.gnn.registry import Registry

    Registry(get_settings().models_dir).fall_back_if_broken()  # refuse a broken active version


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


# -- the tasks ---------------------------------------------------------------------------

JobRunner = Callable[..., dict[str, Any]]


@shared_task(
    name="ringfence.score_account",
    queue=ONLINE,
    autoretry_for=(StoreUnavailable,),
    max_retries=8,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
)
def score_account(account_id: str) -> dict[str, Any]:
    return scoring.score_one(worker_store(), get_settings(), account_id)


@shared_task(name="ringfence.sweep", queue=JOBS, bind=True, max_retries=5)
def sweep(self: Task, job_id: str) -> dict[str, Any]:
    settings = get_settings()
    if settings.sweep_shard_links > 0:  # fan out: services.shard_jobs
        return shard_jobs.start(worker_store(), settings, job_id,
                                lambda message: sweep_shard.apply_async(kwargs=message),
                                lambda message: sweep_finish.apply_async(kwargs=message))
    return _run_job(self, run_sweep_job, job_id)


@shared_task(name="ringfence.sweep_shard", queue=JOBS, bind=True)
def sweep_shard(self: Task, job_id: str, sweep_id: str, shard: int, components: list[int], as_of: str
                ) -> dict[str, Any]:
    """One shard of a sharded sweep (the accounts of `components`); tried
    `RINGFENCE_SWEEP_SHARD_ATTEMPTS` times, then staged as failed so that the sweep fails naming
    it. A worker killed mid-shard leaves the message unacknowledged: the broker redelivers it and
    the shard is computed again (staging replaces)."""
    settings = get_settings()
    try:
        return shard_jobs.run_one_shard(worker_store(), settings, job_id, sweep_id, shard, components, as_of)
    except Exception as exc:
        attempts = settings.sweep_shard_attempts
        if self.request.retries + 1 >= attempts:
            log.error("shard %d of sweep %s failed for good after %d attempts: %s", shard, sweep_id, attempts,
                      type(exc).__name__)
            shard_jobs.record_failure(worker_store(), sweep_id, shard, exc)
            raise
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries), max_retries=attempts - 1) from exc


@shared_task(name="ringfence.sweep_finish", queue=JOBS, bind=True, max_retries=None)
def sweep_finish(self: Task, job_id: str, sweep_id: str, n_shards: int, started: str, model_version: str,
                 stats: dict[str, Any]) -> dict[str, Any]:
    """Publishes a sharded sweep once its shards are staged; until then it runs again a second
    later (no result backend, so no chord), renewing the job's locks each time."""
    done = shard_jobs.finish_or_wait(worker_store(), get_settings(), job_id, sweep_id, n_shards, started,
                                     model_version, stats)
    if done is None:
        raise self.retry(countdown=1)
    return done


@shared_task(name="ringfence.train", queue=JOBS, bind=True, max_retries=5)
def train(self: Task, job_id: str) -> dict[str, Any]:
    return _run_job(self, run_train_job, job_id)


def _run_job(task: Task, run: JobRunner, job_id: str) -> dict[str, Any]:
    settings: Settings = get_settings()
    limit = WorkerLimits(settings).job_limit(settings)
    try:
        return run(worker_store(), settings, job_id, limit, time_limit=(SoftTimeLimitExceeded,))
    except StoreUnavailable as exc:
        final = task.request.retries >= (task.max_retries or 0)
        if _store is not None:
            jobs.mark_retrying(_store, job_id, exc, final)
        if final:
            raise
        countdown = min(300, 5 * 2**task.request.retries)
        raise task.retry(exc=exc, countdown=countdown) from exc


# No retries: a store or broker error waits for the next tick, which asks again.
@shared_task(name="ringfence.rescore_pending", queue=ONLINE)
def rescore_pending() -> dict[str, Any]:
    """Beat's safety net under the broker: see `services.scoring.rescore_due`; and jobs whose
    worker died are marked failed (`services.jobs.reap_lost_jobs`)."""
    send = score_account.apply_async
    requeued = scoring.rescore_due(worker_store(), get_settings(), lambda account_id: send([account_id]))
    lost = jobs.reap_lost_jobs(worker_store(), get_settings())
    return {"requeued": requeued, "worker_lost": lost}


@shared_task(name="ringfence.scheduled_sweep", queue=JOBS)
def scheduled_sweep() -> dict[str, Any]:
    """Beat's tick: a sweep job queued like `POST /v1/sweeps` queues one, so the long work
    runs under a job id that stays the same across redeliveries."""
    job = jobs.schedule_sweep(worker_store(), lambda job_id: sweep.apply_async(args=[job_id]))
    return {"job_id": job.id}
