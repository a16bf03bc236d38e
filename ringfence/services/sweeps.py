"""Batch sweeps: detect rings on the whole graph, score everything, publish atomically.

`run_sweep_job` is what a worker runs for a sweep job (`services.jobs` owns the job's status
and the lock handshake with `services.jobs.start_sweep`); `run_sweep` is the sweep itself,
also run directly by `ringfence sweep` and `ringfence demo`.

`run_sweep` holds the store's "sweep" lock for its whole run (owner: the job id when given,
so a redelivered task of the same job re-takes its own lock; else a fresh owner). A heartbeat
renews it every third of `settings.sweep_lock_ttl_s` (short: 30 s by default) and every phase
checks it, so the lock of a killed worker expires within the TTL (and
`services.jobs.reap_lost_jobs` frees it at once when it finds the job's owner gone).
Everything is computed in memory and handed to `store.publish_sweep`, which writes under
the new sweep id and flips the current pointer last, in one transaction: a sweep that fails
or is killed at any point leaves the previously published sweep current and whole, and the
next sweep starts from it.

Phases (seconds in `SweepResult.stats["phases"]`):
    load     read accounts (with the scorer's attributes) and links into integer arrays, once
             (graph.arrays.load_arrays): detection and scoring both read them
    detect   weighted projection, components, Leiden splits, group features
    score    every account (`scorer.score_all`) and every ring (`graph.ring_risk`)
    match    ring identity against the current sweep (graph.lineage)
    publish  store.publish_sweep
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from ringfence.core.clock import utcnow
from ringfence.core.errors import SweepRunning
from ringfence.core.settings import Settings
from ringfence.core.usage import Usage
from ringfence.graph.arrays import AttributeSpec, GraphArrays, load_arrays
from ringfence.graph.detection import DetectionParams, detect
from ringfence.graph.model import SweepResult
from ringfence.graph.ring_risk import ring_risk
from ringfence.graph.store import GraphStore
from ringfence.services.jobs import (
    SWEEP_LOCK,
    Heartbeat,
    TimeLimitExceeded,
    job_guard,
    mark_failed,
    mark_running,
    mark_succeeded,
    run_recorded,
)
from ringfence.services.publish import RingDraft, build_result

log = logging.getLogger(__name__)
LOCK = SWEEP_LOCK
Progress = Callable[[str, float], None]


class AccountScorer(Protocol):
    """What a sweep needs of a scorer (`gnn.score.Scorer`; tests plug in stand-ins)."""

    version: str

    @property
    def schema(self) -> AttributeSpec | None:
        """The account attributes `score_all` reads from `arrays` (None: none)."""
        ...

    def score_all(
        self, store: GraphStore, as_of: datetime | None = None, *, arrays: GraphArrays | None = None
    ) -> dict[str, float]: ...


def sweep_id_for(started: datetime, owner: str) -> str:
    """Sortable by start time (to the millisecond), unique per run: s20260504T101502123Z-1a2b3c."""
    stamp = started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z"
    return f"s{stamp}-{hashlib.sha256(f'{stamp}:{owner}'.encode()).hexdigest()[:6]}"


def run_sweep(
    store: GraphStore,
    settings: Settings,
    scorer: AccountScorer | None = None,
    job_id: str | None = None,
    progress: Progress | None = None,
    params: DetectionParams | None = None,
    as_of: datetime | None = None,
) -> SweepResult:
    """One full sweep; raises `SweepRunning` if another owner holds the sweep lock.

    `as_of`: the time account features and labels are read at (default: when scoring starts).
    With `settings.sweep_shard_links` > 0 the sweep runs shard by shard (`services.shards`)."""
    owner = job_id or f"sweep-{uuid.uuid4().hex}"
    ttl = float(settings.sweep_lock_ttl_s)
    if not store.acquire_lock(LOCK, owner, ttl_s=ttl):
        raise SweepRunning()
    try:
        if job_id:
            mark_running(store, job_id)
        try:
            with Heartbeat(store, [(LOCK, owner)], ttl):
                result = _sweep(store, settings, scorer, owner, ttl, progress, params, as_of)
        except BaseException as exc:
            if job_id:
                _record_failure(store, job_id, exc)
            raise
        if job_id:
            mark_succeeded(store, job_id, {
                "sweep_id": result.sweep_id, "rings": len(result.rings), "accounts": len(result.account_risks),
                "dissolved": len(result.dissolved), "seconds": result.stats.get("seconds")})
        return result
    finally:
        try:
            store.release_lock(LOCK, owner)
        except Exception:  # the store is down: the lock expires on its own
            log.warning("could not release the sweep lock of %s; it expires in %.0fs", owner, ttl)


def _record_failure(store: GraphStore, job_id: str, exc: BaseException) -> None:
    code = getattr(exc, "code", "internal")
    try:
        mark_failed(store, job_id, code, f"{type(exc).__name__}: {exc}")
    except Exception:
        log.error("sweep job %s failed (%s) and the failure could not be recorded", job_id, code)


def run_sweep_job(
    store: GraphStore, settings: Settings, job_id: str, limit: float,
    time_limit: tuple[type[BaseException], ...] = (TimeLimitExceeded,),
) -> dict[str, Any]:
    """Run the sweep of job `job_id` (a worker's task); `run_sweep` records running/succeeded/failed."""
    with job_guard(store, job_id, settings.sweep_lock_ttl_s) as mine:
        if not mine:
            return {"job_id": job_id, "skipped": True}
        # Another job holding the sweep lock refuses this one; it is not postponed.
        result = run_recorded(store, job_id, "the sweep", limit,
                              lambda: run_sweep(store, settings, job_id=job_id), (SweepRunning,), time_limit)
        if isinstance(result, dict):
            return result
    return {"job_id": job_id, "sweep_id": result.sweep_id}


def _sweep(
    store: GraphStore,
    settings: Settings,
    scorer: AccountScorer | None,
    owner: str,
    ttl: float,
    progress: Progress | None,
    params: DetectionParams | None,
    as_of: datetime | None = None,
) -> SweepResult:
    started = utcnow()
    total = Usage()
    phases: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU seconds per phase: meaningful on a shared machine
    lap = [Usage()]

    def phase(name: str, fraction: float) -> None:
        figures, lap[0] = lap[0].figures(), Usage()
        phases[name], cpu[name] = figures["seconds"], figures["cpu_s"]
        log.info("sweep phase %s: %.2fs", name, phases[name])
        # Refresh the lock; if it expired and someone else took it, this sweep must not publish.
        if not store.acquire_lock(LOCK, owner, ttl_s=ttl):
            raise SweepRunning()
        if progress is not None:
            progress(name, fraction)

    if scorer is None:
        from ringfence.gnn.score import current_scorer

        scorer = current_scorer(settings)
    p = params or DetectionParams.from_settings(settings)
    p_stats = {"threshold": p.threshold, "max_group": p.max_group, "hub_cap": p.hub_cap,
               "min_ring_size": p.min_ring_size, "resolution": p.resolution, "seed": p.seed}
    if settings.sweep_shard_links > 0:
        from ringfence.services.shards import sweep_in_process

        result = sweep_in_process(store, settings, scorer, sweep_id=sweep_id_for(started, owner), started=started,
                                  as_of=as_of or started, params=p, phase=phase,
                                  stats={"phases": phases, "cpu_phases": cpu, "params": p_stats})
        phases["finish"] = lap[0].figures()["seconds"]
        result.stats["accounts"] = len(result.account_risks)
        result.stats["seconds"] = total.figures()["seconds"]
        if progress is not None:
            progress("publish", 1.0)
        return result

    graph = load_arrays(store, attributes=scorer.schema if scorer.schema is not None else False)
    phase("load", 0.2)

    det = detect(graph, p)
    phase("detect", 0.4)

    scores = scorer.score_all(store, as_of, arrays=graph)
    risk = np.fromiter((scores.get(a, 0.0) for a in graph.account_ids), dtype=np.float64, count=graph.n_accounts)
    account_risks = {aid: float(x) for aid, x in zip(graph.account_ids, risk.tolist(), strict=True)}
    for aid, x in scores.items():  # accounts created after the load: scored, in no ring
        account_risks.setdefault(aid, float(x))
    ring_risks = [ring_risk(g.features, risk[g.members]) for g in det.groups]
    phase("score", 0.6)

    drafts = [RingDraft(g.member_ids, g.identifiers, {**g.features, "member_score_mean": float(risk[g.members].mean())},
                        ring_risks[k]) for k, g in enumerate(det.groups)]
    result = build_result(
        store, drafts, account_risks, sweep_id=sweep_id_for(started, owner), started=started,
        model_version=scorer.version,
        stats={
            "phases": phases,
            "cpu_phases": cpu,
            "accounts": graph.n_accounts,
            "links": graph.n_links,
            "detection": det.stats,
            "params": p_stats,
        },
    )
    rings = result.rings
    phase("match", 0.8)

    publishing = Usage()
    store.publish_sweep(result)
    figures = publishing.figures()
    phases["publish"], cpu["publish"] = figures["seconds"], figures["cpu_s"]
    result.stats["seconds"] = total.figures()["seconds"]
    log.info("sweep %s: %d rings, %d accounts, phases %s", result.sweep_id, len(rings), graph.n_accounts, phases)
    if progress is not None:
        progress("publish", 1.0)
    return result
