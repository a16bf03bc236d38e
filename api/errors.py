"""Every error the API answers, in the contract's shape, from one set of exception handlers.

    {"error": {"code": "<snake_case>", "message": "<human sentence>", "details": <optional>}}

Every ringfence error (`ringfence.core.errors`) carries its status and code and is answered by
one handler; request validation becomes 422
`invalid_input`, or `pan_not_allowed` when a raw card number is anywhere in the request (the
number is never echoed: validation details keep `loc`, `msg` and `type`, and locations that
would quote one are redacted); routing 404/405 and body parsing errors keep their status.
Anything else is a bug: a 500 `internal` without a stack trace (see `api.logging`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from ringfence.api.logging import log_crash
from ringfence.core.cards import PAN_MESSAGE, contains_pan, holds_pan, redact_location
from ringfence.core.errors import RingfenceError

log = logging.getLogger("ringfence.api")



class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The one error shape of the API."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "error": {"code": "not_found", "message": "account acc-1 not found"}}})
    error: ErrorBody


def error_json(status: int, code: str, message: str, details: Any = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# -- scrubbing validation errors -----------------------------------------------------------


def scrub_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors without `input`, `ctx` or `url`, and no card number in a location."""
    return [
        {"loc": redact_location(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in errors
    ]


def _validation_code(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if any(e.get("type") == "pan_not_allowed" for e in errors):
        return "pan_not_allowed"
    if any(holds_pan(e.get("input")) or any(isinstance(p, str) and contains_pan(p) for p in e.get("loc", ()))
           for e in errors):
        return "pan_not_allowed"
    if holds_pan(getattr(exc, "body", None)):
        return "pan_not_allowed"
    return "invalid_input"


# -- handlers ------------------------------------------------------------------------------


async def _ringfence_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RingfenceError)
    if exc.status >= 500 and exc.status != 503:
        log.error("unmapped error %s", type(exc).__name__)
        return error_json(500, "internal", "Internal error.")
    return error_json(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code = _validation_code(exc)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_json(400, "malformed_json", "The request body is not valid JSON.")
    message = PAN_MESSAGE if code == "pan_not_allowed" else "The request is not valid; see details."
    return error_json(422, code, message, scrub_errors(errors))


_HTTP_CODES = {
    400: ("bad_request", "The request could not be read."),
    401: ("unauthenticated", "Missing or unknown API key."),
    403: ("forbidden", "This key may not do that."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "Method not allowed on this resource."),
    413: ("payload_too_large", "The request body is larger than 10 MiB."),
    415: ("unsupported_media_type", "Send JSON."),
}


def _allowed_methods(request: Request) -> str:
    """Every method the schema offers on this path (Starlette names only the first route's).

    A literal path (`/v1/accounts/batch`) answers for itself rather than for the templates
    it also matches (`/v1/accounts/{id}`)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        paths = request.app.openapi()["paths"]
        table = [(path, compile_path(path)[0], {m.upper() for m in ops}) for path, ops in paths.items()]
        request.app.state.allowed_methods = table
    path = request.url.path
    literal = [offered for template, _, offered in table if template == path]
    methods: set[str] = set().union(*literal) if literal else set()
    if not literal:
        for _, regex, offered in table:
            if regex.match(path):
                methods |= offered
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "The request failed."))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return error_json(exc.status_code, code, message, headers=headers)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log_crash(log, exc)
    return error_json(500, "internal", "Internal error; it has been logged.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RingfenceError, _ringfence_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


# The graph exports' 200s besides JSON (`format=graphml|gexf`): documented so clients and
# schemathesis know the content types.
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {
    "application/graphml+xml": {"schema": {"type": "string"}},
    "application/gexf+xml": {"schema": {"type": "string"}},
}}}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error statuses a route can answer."""
    described = {
        400: "Malformed JSON body",
        401: "Missing or unknown API key (`unauthenticated`)",
        403: "The key lacks the scope (`forbidden`)",
        404: "Not found (`not_found`)",
        409: "Conflict with the current state (`sweep_running`, `conflict`)",
        413: "Body over 10 MiB (`payload_too_large`)",
        422: "Invalid input (`invalid_input`) or a raw card number (`pan_not_allowed`)",
        429: "Rate limited (`rate_limited`); see `Retry-After`",
        503: "The graph store or the broker is unavailable (`store_unavailable`)",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": described[s]}
        if s == 429:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
        if s == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
        out[s] = entry
    return out
