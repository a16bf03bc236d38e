"""Dependencies: the store, settings and dispatcher of the app, and one guard per scope.

Every `/v1` route declares exactly one guard (`RequireScore`, `RequireInvestigate`,
`RequireLabel`, `RequireAdmin`, `RequireReadAccount`, or `PrincipalDep` for any valid key),
which in order authenticates the key (401), applies the key's rate limit (429), checks the scope
(403) and refuses a raw card number anywhere in the path, query string or an undeclared body,
an undeclared query parameter, or a body on a route that takes none (422).
Handlers never check scopes themselves.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ringfence.api.auth import Principal
from ringfence.core.cards import contains_pan, query_holds_pan, redact_names
from ringfence.core.errors import Forbidden, InvalidInput, PanNotAllowed, RateLimited, Unauthenticated
from ringfence.core.settings import Settings
from ringfence.graph.store import GraphStore
from ringfence.services.dispatch import Dispatcher

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`; keys from RINGFENCE_API_KEYS")


# Async on purpose: they only read app state, and a plain `def` dependency costs a threadpool hop.
async def get_store(request: Request) -> GraphStore:
    return request.app.state.store  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


@dataclass(frozen=True, slots=True)
class WriteServices:
    """The store, settings, dispatcher and write gate in one dependency, for the hot write route:
    FastAPI resolves each dependency anew on every request, at ~0.1 ms of CPU apiece."""

    store: GraphStore
    settings: Settings
    dispatcher: Dispatcher
    # Bounds how many upsert-and-score requests run at once (one per core): more only queue on
    # SQLite's write lock, whose busy handler sleeps in steps of milliseconds, and on the GIL.
    write_gate: threading.BoundedSemaphore


async def get_write_services(request: Request) -> WriteServices:
    state = request.app.state
    return WriteServices(state.store, state.settings, state.dispatcher, state.write_gate)


StoreDep = Annotated[GraphStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
WriteServicesDep = Annotated[WriteServices, Depends(get_write_services)]


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Unauthenticated("Send an API key as `Authorization: Bearer <key>`.", headers=challenge)
    principal = request.app.state.keys.lookup(credentials.credentials)
    if principal is None:
        raise Unauthenticated("Unknown API key.", headers=challenge)
    return principal  # type: ignore[no-any-return]


async def _authenticate_throttled(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """`authenticate`, refused outright (429) for an address that has failed too often."""
    throttle = request.app.state.auth_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.waiting(address)
    if wait > 0:
        raise RateLimited("Too many failed authentications from this address; slow down.",
                          headers={"Retry-After": str(math.ceil(wait))})
    try:
        return authenticate(request, credentials)
    except Unauthenticated:
        await throttle.failed(address)
        raise


def _declared_query(route: Any) -> frozenset[str]:
    names = getattr(route, "_ringfence_query_names", None)
    if names is None:
        found: set[str] = set()
        stack = [getattr(route, "dependant", None)]
        while stack:
            dependant = stack.pop()
            if dependant is not None:
                found.update(p.alias for p in dependant.query_params)
                stack.extend(dependant.dependencies)
        names = frozenset(found)
        route._ringfence_query_names = names
    return names  # type: ignore[no-any-return]


def _check_url(request: Request) -> None:
    """No card number in the path or query string, and no query parameter the route lacks."""
    if contains_pan(request.url.path):
        raise PanNotAllowed("the path")
    for name, value in request.query_params.multi_items():
        if query_holds_pan(name, value):
            raise PanNotAllowed("the query string")
    route = request.scope.get("route")
    if route is not None:
        unknown = sorted(set(request.query_params) - _declared_query(route))
        if unknown:
            raise InvalidInput("unknown query parameter(s)", {"unknown": redact_names(unknown)})


async def _check_unexpected_body(request: Request) -> None:
    """A route that declares no body (`POST /v1/sweeps`, any GET) refuses one with content
    rather than ignore it: a card number there is refused like anywhere else, and fields no
    route reads are unknown fields. Empty, `{}` and `null` bodies are what clients send for
    "nothing" and pass."""
    route = request.scope.get("route")
    if route is None or getattr(route, "body_field", None) is not None:
        return
    raw = (await request.body()).strip()
    if raw in (b"", b"{}", b"null"):
        return
    if contains_pan(raw.decode("utf-8", "replace")):
        raise PanNotAllowed("the body")
    raise InvalidInput("this route takes no request body")


def require_scope(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A guard admitting keys with any of `scopes` (or `admin`)."""

    # The key is read here rather than by a dependency of its own: FastAPI resolves each
    # dependency anew on every request, at ~0.1 ms of CPU apiece.
    async def guard(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        principal = await _authenticate_throttled(request, credentials)
        wait = await request.app.state.limiter.hit(principal.key_id)
        if wait > 0:
            retry_after = {"Retry-After": str(math.ceil(wait))}
            raise RateLimited("Too many requests for this key; slow down.", headers=retry_after)
        if not principal.allows(scopes):
            raise Forbidden(f"This key lacks the scope {' or '.join(scopes)}.")
        _check_url(request)
        await _check_unexpected_body(request)
        request.state.key_id = principal.key_id
        return principal

    guard.__name__ = f"require_{'_or_'.join(scopes) or 'any_key'}"
    return guard


RequireScore = Depends(require_scope("score"))
RequireInvestigate = Depends(require_scope("investigate"))
RequireLabel = Depends(require_scope("label"))
RequireAdmin = Depends(require_scope("admin"))
RequireReadAccount = Depends(require_scope("investigate", "score"))
PrincipalDep = Annotated[Principal, Depends(require_scope())]  # any valid key
