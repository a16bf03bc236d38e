"""How the API is served: uvicorn, with the limits the edge needs and uvicorn lacks.

uvicorn times out idle keep-alive connections but not a request whose headers trickle in (or
never come): 100 half-sent requests stay open for ever. `DeadlineHttpProtocol` gives every
request `settings.header_timeout_s` from its first byte (or from the connection, for the
first request) to its last header line, then closes the connection; the body has its own
deadline (`api.middleware.BodyLimit`). `serve_options` is what `ringfence serve` passes uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ringfence.core.settings import get_settings


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on reading each request's headers."""

    header_timeout_s: float | None = None
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        timeout = self.header_timeout_s or get_settings().header_timeout_s
        self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()


def serve_options() -> dict[str, Any]:
    """uvicorn's options for the API: the deadline protocol, no `server` banner, short keep-alive,
    and no second access log (the API logs each request itself, as JSON, with its request id)."""
    return {"http": DeadlineHttpProtocol, "server_header": False, "timeout_keep_alive": 5,
            "log_config": None, "access_log": False}
