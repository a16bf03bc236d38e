"""Opaque keyset cursors shared by both backends."""

from __future__ import annotations

import base64
import json
from typing import Any

from ringfence.core.errors import InvalidInput


def encode(**fields: Any) -> str:
    raw = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this service issued") from exc
    if not isinstance(value, dict):
        raise InvalidInput("cursor is not one this service issued")
    return value
