"""Every error the API answers, in the contract's shape, from one set of exception handlers.

    {"error": {"code": "<snake_case>", "message": "<human sentence>", "details": <optional>}}

Domain errors (`ringfence.core.errors`) map to a status by class; request validation becomes 422
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
from ringfence.graph.validation import contains_pan
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from ringfence.core.errors import Conflict, InvalidInput, NotFound, RingfenceError, StoreUnavailable

log = logging.getLogger("ringfence.api")

PAN_MESSAGE = "A raw card number was found in the request; send a token or fingerprint instead."
REDACTED = "<redacted>"


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


class ApiError(Exception):
    """An error raised by the API layer itself (auth, rate limits)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class Unauthenticated(ApiError):
    status, code = 401, "unauthenticated"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


def error_json(status: int, code: str, message: str, details: Any = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def domain_status(exc: RingfenceError) -> int:
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, StoreUnavailable):
        return 503
    return 500


# -- scrubbing validation errors -----------------------------------------------------------


def holds_pan(value: Any) -> bool:
    """True if any string, dict key or integral number inside `value` looks like a card number."""
    if isinstance(value, str):
        return contains_pan(value)
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return contains_pan(str(value))
    if isinstance(value, float):
        return value.is_integer() and abs(value) < 1e20 and contains_pan(str(int(value)))
    if isinstance(value, dict):
        return any(holds_pan(k) or holds_pan(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_pan(v) for v in value)
    return False


def scrub_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors without `input`, `ctx` or `url`, and no card number in a location."""
    out = []
    for err in errors:
        loc = [REDACTED if isinstance(p, str) and contains_pan(p) else p for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


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


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RingfenceError)
    status = domain_status(exc)
    if status == 500:
        log.error("unmapped domain error %s", type(exc).__name__)
        return error_json(500, "internal", "Internal error.")
    return error_json(status, exc.code, exc.message, exc.details)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_json(exc.status, exc.code, exc.message, headers=exc.headers)


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
    log.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return error_json(500, "internal", "Internal error; it has been logged.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RingfenceError, _domain_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


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
