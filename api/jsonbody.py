"""Request bodies parsed with orjson: routes on a router with `route_class=OrjsonRoute`.

Starlette parses JSON with the standard library, a sixth of a 5,000-account batch's CPU;
orjson is several times faster. It is also stricter: `NaN`, `Infinity` and lone surrogates,
which are not JSON, are refused (400 `malformed_json`) instead of accepted. orjson's error is
a `json.JSONDecodeError`, so FastAPI reports it exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class OrjsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return route_handler
