"""Liveness, readiness and Prometheus metrics; no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ringfence.api.deps import DispatcherDep, SettingsDep, StoreDep
from ringfence.api.errors import responses
from ringfence.api.metrics import CONTENT_TYPE
from ringfence.api.schemas import Status
from ringfence.core.errors import ModelUnavailable
from ringfence.gnn.registry import Registry

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="200 while the process serves", response_model_exclude_none=True)
async def healthz() -> Status:
    return Status(status="ok")


@router.get("/readyz", responses=responses(503), summary="200 when the store (and broker, if any) answer")
def readyz(store: StoreDep, settings: SettingsDep, dispatcher: DispatcherDep) -> Status:
    store.ping()  # StoreUnavailable -> 503
    checks = {"store": "ok", "broker": "not_configured"}
    if settings.broker_url:
        dispatcher.ping()
        checks["broker"] = "ok"
    model = Registry(settings.models_dir).health()
    if model.state == "broken":  # scores would answer 503 model_unavailable
        raise ModelUnavailable(model.problem or "the active model is unavailable")
    checks["model"] = model.version
    if model.problem:
        checks["model_fallback"] = model.problem
    return Status(status="ok", checks=checks)


@router.get("/metrics", response_class=Response, summary="Prometheus text format",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
