"""Jobs: sweeps and training run in the background; their state lives in the store."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request

from ringfence.api.deps import DispatcherDep, RequireAdmin, SettingsDep, StoreDep
from ringfence.api.errors import responses
from ringfence.api.schemas import JobPublic
from ringfence.core.errors import SweepRunning, Unavailable, found
from ringfence.graph.validation import ID_PATTERN
from ringfence.services import jobs

log = logging.getLogger("ringfence.api")
router = APIRouter(tags=["jobs"])


def _count(request: Request, kind: str, status: str) -> None:
    request.app.state.metrics.jobs.labels(kind, status).inc()


@router.post("/v1/sweeps", status_code=202, dependencies=[RequireAdmin],
             responses=responses(401, 403, 409, 422, 429, 503), summary="Start a full sweep")
def start_sweep(request: Request, store: StoreDep, settings: SettingsDep, dispatcher: DispatcherDep) -> JobPublic:
    try:
        job = jobs.start_sweep(store, settings, dispatcher, trigger="api")
    except SweepRunning:
        _count(request, "sweep", "rejected")
        raise
    except Unavailable:
        _count(request, "sweep", "failed")
        raise
    _count(request, "sweep", "queued")
    return JobPublic.of(job)


@router.post("/v1/models/train", status_code=202, dependencies=[RequireAdmin],
             responses=responses(401, 403, 422, 429, 503), tags=["models"],
             summary="Train a model on the current labels; on success it becomes active")
def start_training(request: Request, store: StoreDep, dispatcher: DispatcherDep) -> JobPublic:
    try:
        job = jobs.start_training(store, dispatcher, trigger="api")
    except Unavailable:
        _count(request, "train", "failed")
        raise
    _count(request, "train", "queued")
    return JobPublic.of(job)


@router.get("/v1/jobs/{id}", dependencies=[RequireAdmin], responses=responses(401, 403, 404, 422, 429, 503))
def get_job(id: Annotated[str, Path(pattern=ID_PATTERN)], store: StoreDep, settings: SettingsDep) -> JobPublic:  # noqa: A002
    job = found(store.get_job(id), f"job {id} not found")
    if job.status == "running" and jobs.reap_lost_jobs(store, settings, only=id):
        job = found(store.get_job(id), f"job {id} not found")
    return JobPublic.of(job)
