"""Celery configuration: queues, routing, reliability settings and the beat schedule.

Only configuration lives here, and no app is made at import: `make_celery()` makes one. The
worker's and beat's app is `workers.celery.app` (`celery -A ringfence.workers worker`); the
tasks are in `workers.tasks` and are sent by name, so a producer (`workers.dispatch`'s
`CeleryDispatcher`) makes its own app and never imports them. The broker is whatever
`RINGFENCE_BROKER_URL` names (`redis://...` or `amqp://...`); there is no result backend
because job state lives in the graph store.

Workers are started per queue (`ringfence worker --queues online`, `--queues jobs`) so that
an hour-long sweep never sits in front of an onboarding score.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from ringfence.core.settings import Settings, get_settings
from ringfence.services.dispatch import JOBS, ONLINE, QUEUES, job_limit

TASK_QUEUES = {
    "ringfence.score_account": ONLINE,
    "ringfence.sweep": JOBS,
    "ringfence.train": JOBS,
    "ringfence.scheduled_sweep": JOBS,
    "ringfence.sweep_shard": JOBS,
    "ringfence.sweep_finish": JOBS,
    "ringfence.rescore_pending": ONLINE,
}


class WorkerLimits:
    """Time limits and the broker's redelivery timeout, read from `Settings`.

    They belong together: a long job runs at most `job_time_limit` (default: the sweep lock's
    TTL, so the lock never expires under a live sweep), and the broker redelivers an
    unacknowledged message only after `broker_visibility_timeout` (default: that limit plus
    10%, at least a minute), so a job that is still running is never handed to a second
    worker. Tests shorten both to see a redelivery within seconds.

    There is one unacknowledged set for both queues on purpose: Redis transports scan only
    the set whose key they are configured with, and after a broker restart kombu may file an
    in-flight message under the default key, where a worker with other key names would never
    find it (seen here: one score in 600 lost). The price is that an abandoned score waits for
    the long timeout; the rescore beat (`services.scoring.rescore_due`) queues it again long before.
    """

    def __init__(self, settings: Settings | None = None, **overrides: float) -> None:
        s = settings or get_settings()
        self.score_time_limit_s = overrides.get("score_time_limit_s", s.score_time_limit_s)
        self.job_time_limit_s = overrides.get("job_time_limit_s", s.job_time_limit_s)
        self.broker_visibility_timeout_s = overrides.get("broker_visibility_timeout_s", s.broker_visibility_timeout_s)

    def job_limit(self, settings: Settings) -> float:
        return self.job_time_limit_s or job_limit(settings)

    def visibility_timeout(self, settings: Settings) -> float:
        limit = self.job_limit(settings)
        vt = self.broker_visibility_timeout_s or limit + max(60.0, limit / 10)
        if vt <= limit:
            raise ValueError(
                f"RINGFENCE_BROKER_VISIBILITY_TIMEOUT_S ({vt:g}) must exceed the job time limit ({limit:g}): "
                "otherwise a running job is redelivered to a second worker"
            )
        return vt


def _soft(hard: float) -> float:
    # The soft limit leaves the task time to mark its job failed before the hard kill.
    return hard - max(1.0, min(60.0, hard / 20))


def celery_config(settings: Settings, limits: WorkerLimits | None = None) -> dict[str, Any]:
    limits = limits or WorkerLimits(settings)
    job_limit = limits.job_limit(settings)
    vt = limits.visibility_timeout(settings)
    interval = float(settings.sweep_interval_s)
    return {
        "broker_url": settings.broker_url,
        "task_queues": [Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        "task_default_queue": JOBS,
        "task_routes": {name: {"queue": q, "routing_key": q} for name, q in TASK_QUEUES.items()},
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # No result backend: callers follow jobs in the store and scores land in the store.
        "task_ignore_result": True,
        # Acknowledge after the task ran, not when it was received: a worker that dies
        # mid-task leaves its message unacknowledged and the broker hands it out again.
        # Every task is idempotent, so running one twice is safe; losing one is not.
        "task_acks_late": True,
        # When a pool process is killed (OOM, kill -9), requeue its message at once instead
        # of acknowledging it as failed. The cost is a possible loop on a task that always
        # kills its process; jobs bound that with their time limit and the job record.
        "task_reject_on_worker_lost": True,
        # A worker process reserves one message at a time. With late acks a prefetched
        # message is invisible to other workers until this one gets to it; behind a sweep
        # that could be an hour. Throughput on `online` barely changes (tasks are ms long).
        "worker_prefetch_multiplier": 1,
        # Hard limits kill the process; soft limits let the task record the failure first.
        "task_time_limit": job_limit,
        "task_soft_time_limit": _soft(job_limit),
        "task_annotations": {
            "ringfence.score_account": {
                "time_limit": limits.score_time_limit_s,
                "soft_time_limit": _soft(limits.score_time_limit_s),
            }
        },
        "broker_transport_options": {
            # Redis (and SQS) redeliver an unacknowledged message after this many seconds.
            # It must be the same for every producer and worker and longer than the longest
            # job, or a job that is still running starts a second time elsewhere.
            "visibility_timeout": vt,
            # Look for abandoned messages every tenth of the timeout (kombu's default
            # throttling would make that 100 s at best).
            "unacked_restore_interval": max(1, min(60, int(vt // 10))),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
            "socket_keepalive": True,
            "health_check_interval": 10,
        },
        # A producer gives up on a dead broker within about a second, so the API can answer
        # 503 instead of hanging; workers keep reconnecting forever.
        "broker_connection_timeout": 2,
        "task_publish_retry": True,
        "task_publish_retry_policy": {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # On a broker blip, let running jobs finish: their late ack may then be lost and the
        # message redelivered, but the redelivery sees a finished job and does nothing,
        # whereas cancelling would throw away (and later redo) an hour of sweep.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_send_task_events": False,
        "beat_schedule": {
            "sweep": {
                "task": "ringfence.scheduled_sweep",
                "schedule": interval,
                # A tick nobody picked up within half an interval is dropped; the next one comes.
                "options": {"queue": JOBS, "expires": interval / 2},
            },
            # The broker may lose a queued score (a Redis restart without persistence, a
            # kombu requeue lost with a dead connection); the store may not. This tick queues
            # again the scores the store still lists as requested and unwritten. It travels
            # on the online queue and expires after half an interval, so while that queue is
            # backed up it is dropped instead of adding duplicates of scores still waiting.
            "rescore": {
                "task": "ringfence.rescore_pending",
                "schedule": settings.rescore_interval_s,
                "options": {"queue": ONLINE, "expires": settings.rescore_interval_s / 2},
            },
        },
    }


def _survive_redis_restarts() -> None:
    """Work around a kombu 5.7 Redis transport bug that kills the worker on a broker restart.

    On connection loss the consumer closes the old connection; closing its channel tries to
    requeue the in-memory unacknowledged messages through a client built from the already
    detached connection, and `_connparams` fails with AttributeError ('NoneType' has no
    'hostname'), which Celery treats as unrecoverable: the worker exits. Raising the
    transport's own ConnectionError instead lets Celery ignore it and reconnect; the
    messages stay in Redis' unacked set and come back after the visibility timeout.
    """
    from kombu.transport import redis as kombu_redis

    original = kombu_redis.Channel._connparams
    if getattr(original, "_ringfence", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            import redis

            raise redis.exceptions.ConnectionError("connection already closed")
        return original(self, asynchronous=asynchronous)

    _connparams._ringfence = True  # type: ignore[attr-defined]
    kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]


def make_celery(settings: Settings | None = None, limits: WorkerLimits | None = None) -> Celery:
    """A Celery app for `settings`; the worker's also imports the tasks."""
    _survive_redis_restarts()
    app = Celery("ringfence", include=["ringfence.workers.tasks"])
    app.conf.update(celery_config(settings or get_settings(), limits))
    return app


def _require_broker() -> None:
    if not get_settings().broker_url:
        raise SystemExit("RINGFENCE_BROKER_URL is not set: workers need a broker (e.g. redis://127.0.0.1:6379/0)")


def run_worker(queues: list[str], concurrency: int) -> None:
    """Run a worker in this process, consuming `queues` with `concurrency` pool processes."""
    _require_broker()
    unknown = set(queues) - set(QUEUES)
    if unknown or not queues:
        raise SystemExit(f"unknown queue(s) {sorted(unknown)}; choose from {', '.join(QUEUES)}")
    if ONLINE not in queues:
        _yield_cpu_to_online_work(get_settings().jobs_worker_nice)
    make_celery().worker_main(
        [
            "worker",
            f"--queues={','.join(queues)}",
            f"--concurrency={concurrency}",
            f"--hostname={'-'.join(queues)}@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _yield_cpu_to_online_work(nice: int) -> None:
    """Make a jobs-only worker (and the pool processes it forks) the machine's lowest priority.

    On a small machine a sweep competes with the online worker and the API for the same
    cores. A sweep that takes some seconds longer harms nobody; an onboarding score queued
    behind it does. A positive niceness lets the scheduler hand the cores to online work
    whenever it wants them, and one torch/OpenMP thread (read by torch at import, before
    the pool forks) keeps a sweep from spinning on both cores at once. Scorer._risk never
    raises the thread count above what the process allows.
    """
    os.environ["OMP_NUM_THREADS"] = "1"
    os.nice(nice)
    import torch

    torch.set_num_threads(1)


def run_beat() -> None:
    """Run the beat scheduler that enqueues a sweep every `sweep_interval_s`."""
    _require_broker()
    schedule = get_settings().data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    make_celery().start(["beat", f"--schedule={schedule}", "--loglevel=INFO"])
