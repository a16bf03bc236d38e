"""The FastAPI application: `uvicorn ringfence.api.app:create_app --factory`.

The store and the dispatcher are opened in the lifespan (never at import) and closed on
shutdown; tests pass their own `Settings`. The dispatcher is the in-process one without a
broker, else the Celery producer (only then is Celery imported).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ringfence.api import errors
from ringfence.api.auth import KeyRing
from ringfence.api.logging import configure_logging
from ringfence.api.metrics import ApiMetrics
from ringfence.api.middleware import BodyLimit, Observe
from ringfence.api.pagination import CursorSeal
from ringfence.api.ratelimit import FailedAuthThrottle, make_limiter
from ringfence.api.routes import accounts, docs, health, identifiers, identity, jobs, labels, models, rings, ui
from ringfence.core.settings import Settings, get_settings
from ringfence.gnn.registry import Registry
from ringfence.graph.factory import open_store
from ringfence.graph.store import GraphStore
from ringfence.services.dispatch import Dispatcher, InProcessDispatcher

DESCRIPTION = """Fraud-ring detection over an account-identifier graph.

Authenticate with `Authorization: Bearer <key>`. Every error is
`{"error": {"code", "message", "details"?}}`. Timestamps are RFC 3339 UTC. Raw card numbers
are refused anywhere in a request (422 `pan_not_allowed`)."""


def make_dispatcher(settings: Settings, store: GraphStore) -> Dispatcher:
    if settings.broker_url:
        from ringfence.workers.dispatch import CeleryDispatcher

        return CeleryDispatcher(settings)
    return InProcessDispatcher(settings, store)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = Registry(settings.models_dir)
        registry.fall_back_if_broken()  # a broken active version is refused here, with one log line
        metrics.watch_model(lambda: {(h.version, h.state): 1 for h in [registry.health()]})
        store = open_store(settings)
        dispatcher = make_dispatcher(settings, store)
        app.state.store = store
        app.state.dispatcher = dispatcher
        metrics.watch_queues(getattr(dispatcher, "queue_depth", lambda: None))
        metrics.watch_jobs(store.count_jobs)
        try:
            yield
        finally:
            dispatcher.close()
            await app.state.limiter.close()
            store.close()

    # No redirects: `/v1/rings/` is a 404 in the error shape, never a 307 to a URL built from
    # the caller's Host header. /docs is served from the package (api.docs), not a CDN.
    app = FastAPI(title="ringfence", version="1", description=DESCRIPTION, lifespan=lifespan,
                  redirect_slashes=False, docs_url=None, redoc_url=None)
    metrics = ApiMetrics()
    app.state.settings = settings
    app.state.keys = KeyRing(settings)
    app.state.cursor_seal = CursorSeal(settings)
    app.state.limiter = make_limiter(settings)
    app.state.auth_throttle = FailedAuthThrottle(settings)
    app.state.metrics = metrics
    app.state.write_gate = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
    errors.install(app)
    for module in (accounts, labels, rings, jobs, models, identifiers, identity, health, docs, ui):
        app.include_router(module.router)
    # Added last = outermost: Observe sees every response, 413s included.
    app.add_middleware(BodyLimit, timeout_s=settings.body_timeout_s)
    app.add_middleware(Observe, metrics=metrics)
    return app
