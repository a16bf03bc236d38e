"""Request bodies parsed with orjson: routes on a router with `route_class=OrjsonRoute`.

Starlette parses JSON with the standard library, a sixth of a 5,000-account batch's CPU;
orjson is several times faster (`core.json_input.parse_json`, which keeps integers beyond 64
bits exact). It is also stricter: `NaN`, `Infinity` and lone surrogates, which are not JSON,
are refused (400 `malformed_json`) instead of accepted. orjson's error is a
`json.JSONDecodeError`, so FastAPI reports it exactly as before.

Account bodies take a faster road when they can: validated by pydantic straight from the raw
bytes with the unchecked twin of their model (`api.schemas.UNCHECKED_TWINS`, no Python call
per field), once one regex pass over the raw text has found no card number in it. A string
field holds a card number only if the raw text does, as long as no `\\u` escape could have
made a digit, space or dash (such bodies take the usual road); numbers are checked after
validation. A body the twin refuses is parsed and validated again the usual way, so errors,
400s included, are exactly those of the checked models, and FastAPI passes the validated
instance through (pydantic does not revalidate an instance of the model). Batch bodies, parsed
by orjson, take their own fast road (`api.batchbody`) behind the same scan.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from ringfence.api.batchbody import PreparedBatch, prepare_batch
from ringfence.api.schemas import UNCHECKED_TWINS, AccountBatchIn, pan_free_attributes
from ringfence.core.cards import may_hold_pan
from ringfence.core.json_input import parse_json


def validate_unchecked(model: type[BaseModel], raw: bytes) -> BaseModel | None:
    """`raw` validated by `model`'s unchecked twin, or None when the usual road must decide."""
    try:
        if may_hold_pan(raw):
            return None
        body = model.model_validate_json(raw)
    except (UnicodeDecodeError, ValidationError):
        return None
    return body if pan_free_attributes(body) else None


def fast_batch(raw: bytes, body: Any) -> PreparedBatch | None:
    """`body`, which is `raw` parsed by orjson, prepared by the batch fast road, or None when
    the models must decide."""
    return None if may_hold_pan(raw) else prepare_batch(body)


# Reads that build tens of thousands of short-lived containers on hub-shaped data (20,000 edges,
# a 2 MiB page): with the collector running, every second or third call paid a full collection
# (~250 ms with the model loaded) on top of its ~75 ms (in-process, 6 calls each).
GC_PAUSED_READS = frozenset({"/v1/accounts", "/v1/accounts/{id}/subgraph", "/v1/accounts/{id}/paths"})


class _GcPause:
    """The cyclic collector paused while batch requests (and `GC_PAUSED_READS`) run; counted,
    because requests overlap.

    A 5,000-account batch builds ~150k containers (parsed body, checked accounts, rows), all
    alive until the request ends and then freed by reference counting: the collector would walk
    them, and on a full collection the whole heap, several times per request and find no cycle
    (bench/api.py, one client, runs 10 minutes apart: 24.1/23.2/20.4k -> 26.9/27.9/22.9k links/s,
    server CPU 7.3-8.0 -> 6.2-7.0 s).
    Only the event loop's thread enters and leaves, so the count needs no lock.
    """

    depth = 0
    resume = False

    def __enter__(self) -> None:
        if _GcPause.depth == 0:
            _GcPause.resume = gc.isenabled()
            gc.disable()
        _GcPause.depth += 1

    def __exit__(self, *exc: object) -> None:
        _GcPause.depth -= 1
        if _GcPause.depth == 0 and _GcPause.resume:
            gc.enable()


class OrjsonRequest(Request):
    unchecked: type[BaseModel] | None = None
    batch: bool = False

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            body = None if self.unchecked is None else validate_unchecked(self.unchecked, raw)
            if body is None:
                body = parse_json(raw)
                prepared = fast_batch(raw, body) if self.batch else None
                body = body if prepared is None else prepared
            self._json = body
        return self._json


class OrjsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        declared = None if self.body_field is None else self.body_field.field_info.annotation
        unchecked = UNCHECKED_TWINS.get(declared) if isinstance(declared, type) and issubclass(declared, BaseModel) \
            else None
        batch = declared is AccountBatchIn
        pause = batch or ("GET" in (self.methods or ()) and self.path in GC_PAUSED_READS)

        async def route_handler(request: Request) -> Response:
            wrapped = OrjsonRequest(request.scope, request.receive)
            wrapped.unchecked = unchecked
            wrapped.batch = batch
            if not pause:
                return await handler(wrapped)
            with _GcPause():
                return await handler(wrapped)

        return route_handler
