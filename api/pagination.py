"""Query parameters of list endpoints, and tamper-evident cursors.

A store's cursor is a position (base64 JSON). The API hands it out sealed with an HMAC-SHA256
under a server secret (`settings.cursor_secret`, else a key derived from the API keys), and
opens only cursors whose tag verifies: a forged, truncated or altered cursor is 400
`invalid_cursor` before anything decodes it, so no caller-made JSON reaches the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Query, Request

from ringfence.core.errors import InvalidCursor
from ringfence.core.settings import Settings
from ringfence.graph import cursor as cursors

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size, 1-1000")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=2048, description="Opaque: `next_cursor` of the previous page"),
]
MinRisk = Annotated[float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False)]
_TAG_CHARS = 22  # 132 bits of the tag, base64url


class CursorSeal:
    """Seals store cursors for the wire and opens them again."""

    def __init__(self, settings: Settings) -> None:
        keys = settings.api_keys.get_secret_value()
        secret = settings.cursor_secret.get_secret_value() or f"derived-from-keys:{keys}"
        self._key = hashlib.sha256(b"ringfence-cursor\0" + secret.encode("utf-8", "surrogatepass")).digest()

    def _tag(self, inner: str) -> str:
        mac = hmac.new(self._key, inner.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode()[:_TAG_CHARS]

    def seal(self, inner: str | None) -> str | None:
        return None if inner is None else f"{inner}.{self._tag(inner)}"

    def open(self, cursor: str | None) -> str | None:
        """The store's cursor inside `cursor`, or `InvalidCursor` if this service did not issue it."""
        if cursor is None:
            return None
        inner, dot, tag = cursor.rpartition(".")
        if not dot or not inner.isascii() or not tag.isascii() or not hmac.compare_digest(tag, self._tag(inner)):
            raise InvalidCursor()
        value = cursors.decode(inner)
        if value and not (
            isinstance(value.get("s", ""), str)
            and isinstance(value.get("i"), str)
            and isinstance(value.get("r", 0), int | float)
            and not isinstance(value.get("r", 0), bool)
        ):  # one of ours, but not a list position (a future format): refused the same way
            raise InvalidCursor()
        return inner


async def get_cursor_seal(request: Request) -> CursorSeal:
    return request.app.state.cursor_seal  # type: ignore[no-any-return]


CursorSealDep = Annotated[CursorSeal, Depends(get_cursor_seal)]
