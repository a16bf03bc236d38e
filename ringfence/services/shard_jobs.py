"""A sharded sweep job over Celery workers: partition, one task per shard, one finishing task.

The steps are those of `services.shards`; this module owns how they run as a job when a broker
is configured (`workers.tasks`: `ringfence.sweep`, `ringfence.sweep_shard`, `ringfence.sweep_finish`).
There is no result backend, so no chord: the finishing task polls the staged shards (a cheap
status read) and asks to be run again later until all are in.

- `start` (the `ringfence.sweep` task): takes the job's lock and the sweep lock, partitions,
  and sends one shard task per shard, then the finishing task.
- `run_one_shard`: computes and stages one shard; a shard already staged is not recomputed (a
  redelivered message after a kill -9 finds it, or recomputes it if it was lost mid-way).
  `record_failure` stages a shard that failed for good, so that the finish fails the job.
- `finish_or_wait`: fails the job naming the failed shard (nothing published), waits while
  shards are missing, else publishes once (`services.shards.finish`) and marks the job succeeded.

Locks: every step renews the job's lock `job:<id>` and the sweep lock under one owner per job
(`fanout_owner`, the job id for the sweep lock), so the job counts as alive (not reaped) while
any of its tasks runs or waits, and a job whose workers all died expires like a
single-process sweep's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ringfence.core.clock import utcnow
from ringfence.core.errors import ShardFailed, SweepRunning
from ringfence.core.settings import Settings
from ringfence.core.usage import Usage
from ringfence.graph.detection import DetectionParams
from ringfence.graph.store import GraphStore
from ringfence.services.jobs import FINISHED, SWEEP_LOCK, Heartbeat, mark_failed, mark_running, mark_succeeded
from ringfence.services.shards import check_shardable, encode, finish, plan, run_shard
from ringfence.services.sweeps import sweep_id_for

log = logging.getLogger(__name__)
SendShard = Callable[[dict[str, Any]], object]
SendFinish = Callable[[dict[str, Any]], object]


def fanout_owner(job_id: str) -> str:
    return f"fanout:{job_id}"


def _locks(job_id: str) -> list[tuple[str, str]]:
    return [(f"job:{job_id}", fanout_owner(job_id)), (SWEEP_LOCK, job_id)]


def _renew(store: GraphStore, job_id: str, ttl: float) -> bool:
    return all(store.acquire_lock(name, owner, ttl_s=ttl) for name, owner in _locks(job_id))


def _release(store: GraphStore, job_id: str) -> None:
    for name, owner in _locks(job_id):
        try:
            store.release_lock(name, owner)
        except Exception:  # the store is down: the lock expires on its own
            log.warning("could not release %s of job %s", name, job_id)


def _unfinished(store: GraphStore, job_id: str) -> bool:
    job = store.get_job(job_id)
    return job is not None and job.status not in FINISHED


def start(store: GraphStore, settings: Settings, job_id: str, send_shard: SendShard, send_finish: SendFinish
          ) -> dict[str, Any]:
    """Partition and fan out sweep job `job_id`; the message of each shard and of the finish are
    handed to `send_shard` / `send_finish`."""
    if not _unfinished(store, job_id):
        return {"job_id": job_id, "skipped": True}
    ttl = float(settings.sweep_lock_ttl_s)
    if not store.acquire_lock(f"job:{job_id}", fanout_owner(job_id), ttl_s=ttl):
        log.info("job %s is running elsewhere; dropping the duplicate message", job_id)
        return {"job_id": job_id, "skipped": True}
    try:
        if not store.acquire_lock(SWEEP_LOCK, job_id, ttl_s=ttl):
            raise SweepRunning()
        mark_running(store, job_id)
        from ringfence.gnn.score import current_scorer

        scorer = check_shardable(current_scorer(settings))
        usage = Usage()
        with Heartbeat(store, _locks(job_id), ttl):
            part = plan(store, settings)
        partition_figures = usage.figures()  # the coordinator: grows with the graph, not the shard size
        started = utcnow()
        sweep_id = sweep_id_for(started, job_id)
        for k in range(len(part.shards)):
            send_shard({"job_id": job_id, "sweep_id": sweep_id, "shard": k, "components": part.shards[k].tolist(),
                        "as_of": started.isoformat()})
        send_finish({"job_id": job_id, "sweep_id": sweep_id, "n_shards": len(part.shards),
                     "started": started.isoformat(), "model_version": scorer.version,
                     "stats": {"partition": part.stats, "oversize": part.oversize,
                               "partition_figures": partition_figures}})
        log.info("sweep job %s: %d shards of sweep %s sent", job_id, len(part.shards), sweep_id)
        return {"job_id": job_id, "sweep_id": sweep_id, "shards": len(part.shards)}
    except BaseException as exc:
        mark_failed(store, job_id, getattr(exc, "code", "internal"), f"{type(exc).__name__}: {exc}")
        _release(store, job_id)
        raise


def run_one_shard(store: GraphStore, settings: Settings, job_id: str, sweep_id: str, shard: int,
                  components: list[int], as_of: str) -> dict[str, Any]:
    """Compute and stage one shard, the accounts of `components` (skipped when its job finished
    or the shard is staged)."""
    if not _unfinished(store, job_id):
        return {"shard": shard, "skipped": "job finished"}
    if store.shard_statuses(sweep_id).get(shard) == "done":
        return {"shard": shard, "skipped": "staged"}
    ttl = float(settings.sweep_lock_ttl_s)
    if not _renew(store, job_id, ttl):
        raise SweepRunning()  # the sweep lock of this job was taken over
    from ringfence.gnn.score import current_scorer

    scorer = check_shardable(current_scorer(settings))
    with Heartbeat(store, _locks(job_id), ttl):
        out = run_shard(store, settings, scorer, store.component_accounts(components), datetime.fromisoformat(as_of),
                        DetectionParams.from_settings(settings))
        store.stage_shard(sweep_id, shard, "done", encode(out))
    return {"shard": shard, **out.stats}


def record_failure(store: GraphStore, sweep_id: str, shard: int, exc: BaseException) -> None:
    """Stage shard `shard` as failed for good (the finish then fails the job)."""
    store.stage_shard(sweep_id, shard, "failed", f"{type(exc).__name__}: {exc}"[:500].encode())


def finish_or_wait(store: GraphStore, settings: Settings, job_id: str, sweep_id: str, n_shards: int,
                   started: str, model_version: str, stats: dict[str, Any]) -> dict[str, Any] | None:
    """Publish the sweep once every shard is staged; None while shards are still running."""
    job = store.get_job(job_id)
    if job is None or job.status in FINISHED:
        current = store.current_sweep()
        if current is None or current.sweep_id != sweep_id:
            store.drop_staged(sweep_id)  # a duplicate fan-out of a job that finished without it
        return {"job_id": job_id, "skipped": True}
    current = store.current_sweep()
    if current is not None and current.sweep_id == sweep_id:  # published; the finish died before recording it
        mark_succeeded(store, job_id, {"sweep_id": sweep_id})
        _release(store, job_id)
        return {"job_id": job_id, "sweep_id": sweep_id}
    ttl = float(settings.sweep_lock_ttl_s)
    if not _renew(store, job_id, ttl):
        mark_failed(store, job_id, SweepRunning.code, "the sweep lock of this job expired and was taken over")
        store.drop_staged(sweep_id)
        return {"job_id": job_id, "failed": SweepRunning.code}
    statuses = store.shard_statuses(sweep_id)
    failed = sorted(k for k, s in statuses.items() if s == "failed")
    if not failed and len(statuses) < n_shards:
        return None
    try:
        with Heartbeat(store, _locks(job_id), ttl):
            result = finish(store, sweep_id, n_shards, started=datetime.fromisoformat(started),
                            model_version=model_version, stats=stats)
    except ShardFailed as exc:
        mark_failed(store, job_id, exc.code, exc.message)
        store.drop_staged(sweep_id)
        _release(store, job_id)
        return {"job_id": job_id, "failed": exc.code, "shards": failed}
    mark_succeeded(store, job_id, {
        "sweep_id": result.sweep_id, "rings": len(result.rings), "accounts": len(result.account_risks),
        "dissolved": len(result.dissolved), "shards": n_shards})
    _release(store, job_id)
    return {"job_id": job_id, "sweep_id": result.sweep_id}
