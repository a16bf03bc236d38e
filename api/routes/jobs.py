"""Jobs: sweeps and training run in the background; their state lives in the store."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request
from ringfence.api.deps import DispatcherDep, RequireAdmin, SettingsDep, StoreDep
from ringfence.api.errors import responses
from ringfence.api.schemas import JobPublic
from ringfence.graph.validation import ID_PATTERN

from ringfence.core.errors import NotFound, StoreUnavailable, SweepRunning

log = logging.getLogger("ringfence.api")
router = APIRouter(tags=["jobs"])


def _count(request: Request, kind: str, status: str) -> None:
    request.app.state.metrics.jobs.labels(kind, status).inc()


@router.post("/v1/sweeps", status_code=202, dependencies=[RequireAdmin],
             responses=responses(401, 403, 409, 422, 429, 503), summary="Start a full sweep")
def start_sweep(request: Request, store: StoreDep, settings: SettingsDep, dispatcher: DispatcherDep) -> JobPublic:
    # The job id owns the sweep lock from here on; the sweep re-takes it as the same owner,
    # so of two concurrent POSTs exactly one starts and the other is 409.
    job = store.create_job("sweep", {"trigger": "api"})
    if not store.acquire_lock("sweep", owner=job.id, ttl_s=settings.sweep_lock_ttl_s):
        store.update_job(job.id, "failed", error="sweep_running: another sweep holds the lock")
        _count(request, "sweep", "rejected")
        raise SweepRunning()
    try:
        dispatcher.start_sweep(job.id)
    except StoreUnavailable as exc:
        store.release_lock("sweep", job.id)
        store.update_job(job.id, "failed", error=f"{exc.code}: {exc.message}")
        _count(request, "sweep", "failed")
        raise
    _count(request, "sweep", "queued")
    return JobPublic.of(store.get_job(job.id) or job)


@router.post("/v1/models/train", status_code=202, dependencies=[RequireAdmin],
             responses=responses(401, 403, 422, 429, 503), tags=["models"],
             summary="Train a model on the current labels; on success it becomes active")
def start_training(request: Request, store: StoreDep, dispatcher: DispatcherDep) -> JobPublic:
    job = store.create_job("train", {"trigger": "api"})
    try:
        dispatcher.start_train(job.id)
    except StoreUnavailable as exc:
        store.update_job(job.id, "failed", error=f"{exc.code}: {exc.message}")
        _count(request, "train", "failed")
        raise
    _count(request, "train", "queued")
    return JobPublic.of(store.get_job(job.id) or job)


@router.get("/v1/jobs/{id}", dependencies=[RequireAdmin], responses=responses(401, 403, 404, 422, 429, 503))
def get_job(id: Annotated[str, Path(pattern=ID_PATTERN)], store: StoreDep) -> JobPublic:  # noqa: A002
    job = store.get_job(id)
    if job is None:
        raise NotFound(f"job {id} not found")
    return JobPublic.of(job)
