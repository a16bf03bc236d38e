"""Pure ASGI middleware, outermost first: `Observe` (request id, access log, metrics, the
headers every answer carries and the last-resort 500) and `BodyLimit` (413 over 10 MiB, by
Content-Length and by counting; 400 `request_timeout` for a body that does not arrive in
time; 400 `malformed_json` for JSON nested deeper than anything reads, before anything parses
or walks it recursively)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringfence.api.logging import LOGGER, log_crash, new_request_id, request_id
from ringfence.api.metrics import ApiMetrics

log = logging.getLogger(LOGGER)
MAX_BODY = 10 * 1024 * 1024
# The deepest body a route takes nests 4 levels ({"accounts": [{"links": [{...}]}]}).
MAX_DEPTH = 32
_STRING = re.compile(rb'"[^"]*"')
_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')
_PAIR = re.compile(rb"\[\]|\{\}")
_ALWAYS = [(b"x-content-type-options", b"nosniff")]
_API = [(b"cache-control", b"no-store")]


def nests_deeper_than(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text `raw` opens more than `limit` arrays or objects inside each other
    (closed or not). Passes in C, no recursion: escaped backslashes and quotes out, then all but
    brackets and quotes, then strings, then innermost pairs, level by level."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRING.sub(b"", raw.translate(None, _STRUCTURE)).translate(None, b'"')
    for _ in range(limit):
        inner = _PAIR.sub(b"", brackets)
        if inner == brackets:
            break
        brackets = inner
    else:
        if _PAIR.search(brackets):
            return True
    return brackets.count(b"[") + brackets.count(b"{") > limit  # what was never closed


def _error_message(status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
                   ) -> tuple[Message, Message]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *(headers or [])],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class Observe:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                offered = value.decode("latin-1")
        rid = new_request_id(offered)
        token = request_id.set(rid)
        extra_headers = [(b"x-request-id", rid.encode()), *_ALWAYS,
                         *(_API if scope["path"].startswith("/v1") else [])]
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message = {**message, "headers": [*message.get("headers", []), *extra_headers]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Nothing escapes as a stack trace: one bounded line with the request id, answer 500.
            log_crash(log, exc)
            status = 500
            if not response_started:
                start, body = _error_message(500, "internal", "Internal error; it has been logged.", extra_headers)
                await send(start)
                await send(body)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            extra: dict[str, Any] = {"method": scope["method"], "route": route, "status": status,
                                     "duration_ms": round(elapsed * 1000, 2)}
            key_id = getattr(scope.get("state", {}), "get", lambda _: None)("key_id")
            if key_id:
                extra["key_id"] = key_id
            log.info("request", extra=extra)
            request_id.reset(token)


def _route_label(scope: Scope) -> str:
    """The route template; a plain Starlette route (`/docs`, `/openapi.json`) has no parameters,
    so its path is its template. Anything unrouted is `unmatched`: raw paths would let callers
    grow the label set without bound."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    if scope.get("endpoint") is not None and not scope.get("path_params"):
        return str(scope.get("path", "unmatched"))
    return "unmatched"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY, timeout_s: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def _too_large(self, send: Send) -> None:
        start, body = _error_message(413, "payload_too_large", "The request body is larger than 10 MiB.",
                                     [(b"connection", b"close")])
        await send(start)
        await send(body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every method: a route that takes no body still reads one to refuse it (api.deps).
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    start, body = _error_message(400, "bad_request", "Content-Length is not a number.")
                    await send(start)
                    await send(body)
                    return
                if int(value) > self.max_bytes:
                    await self._too_large(send)
                    return
        # Buffer the body while counting: chunked uploads carry no Content-Length.
        chunks: list[bytes] = []
        total = 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                start, body = _error_message(400, "request_timeout", "The request body did not arrive in time.",
                                             [(b"connection", b"close")])
                await send(start)
                await send(body)
                return
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if nests_deeper_than(raw):
            start, body = _error_message(400, "malformed_json", f"The body nests deeper than {MAX_DEPTH} levels.")
            await send(start)
            await send(body)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": raw, "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
