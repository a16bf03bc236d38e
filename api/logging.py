"""Structured JSON logs with a request id per request.

Each request gets an id (the caller's `X-Request-ID` when it is a short token, else a new
one), echoed in the response and attached to every log record made while it is served,
threads included (contextvars follow `run_in_threadpool`). The access line holds the route
template, never the raw path or query string; keys and bodies are never logged. As a last
line of defence the formatter masks anything shaped like a card number. uvicorn's own lines
(`uvicorn.error`) use the same format.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from ringfence.core.cards import redact

LOGGER = "ringfence.api"
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CRASH_LINE = 300
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


def new_request_id(offered: str | None) -> str:
    if offered and _SAFE_ID.match(offered) and redact(offered) == offered:
        return offered
    while True:  # a random hex id can hold a Luhn-valid digit run; it must not look like a card
        rid = uuid.uuid4().hex
        if redact(rid) == rid:
            return rid


def log_crash(logger: logging.Logger, exc: BaseException) -> None:
    """A 500 as one bounded line: the exception's type and where it was raised, with the request
    id (added by the formatter). No traceback and no message: an 800-byte request must not buy
    100 KB of log, and a message may quote the request."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    logger.error(f"unhandled {type(exc).__name__}{where}"[:_CRASH_LINE])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        # The last pass reads the line unescaped, so it sees digits of every script as digits;
        # the line goes out ASCII-escaped, as before.
        line = redact(json.dumps(out, default=str, ensure_ascii=False))
        return json.dumps(json.loads(line))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    _ringfence = True

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


# uvicorn's own lines (start, stop, protocol errors) go out as JSON too: `serve` passes it no
# log config, and a plain-text line in the middle would break whatever reads the JSON.
_SERVER_LOGGER = "uvicorn.error"


def configure_logging(level: int = logging.INFO) -> logging.Logger:
    """Give the API's logger and the server's one JSON handler on stderr (idempotent)."""
    for name in (LOGGER, _SERVER_LOGGER):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(getattr(h, "_ringfence", False) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
    # Unconfigured, the root would print uvicorn's warnings a second time, as plain text.
    logging.getLogger(_SERVER_LOGGER).propagate = False
    return logging.getLogger(LOGGER)
