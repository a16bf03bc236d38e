"""Training as a job: what a worker runs for `POST /v1/models/train` (the model code is `gnn.train`)."""

from __future__ import annotations

from typing import Any

from ringfence.core.errors import InvalidInput
from ringfence.core.settings import Settings
from ringfence.graph.store import GraphStore
from ringfence.services.jobs import TimeLimitExceeded, job_guard, mark_running, mark_succeeded, run_recorded


def run_train_job(
    store: GraphStore, settings: Settings, job_id: str, limit: float,
    time_limit: tuple[type[BaseException], ...] = (TimeLimitExceeded,),
) -> dict[str, Any]:
    """Train (and activate) a model for job `job_id`, recording the job's progress.

    Too few labels (`InvalidInput`) fail the job without a retry."""
    from ringfence.gnn.train import train  # torch: imported by the process that trains, on first use

    with job_guard(store, job_id, settings.sweep_lock_ttl_s) as mine:
        if not mine:
            return {"job_id": job_id, "skipped": True}
        mark_running(store, job_id)
        report = run_recorded(store, job_id, "training", limit,
                              lambda: train(store, settings, seed=settings.seed), (InvalidInput,), time_limit)
        if isinstance(report, dict):
            return report
        metrics = getattr(report, "metrics", None)
        result = {"version": report.version} if metrics is None else {"version": report.version, "metrics": metrics}
        mark_succeeded(store, job_id, result)
    return {"job_id": job_id, "version": report.version}
