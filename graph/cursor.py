"""Opaque keyset cursors shared by both backends."""

from __future__ import annotations

import base64
import json
from typing import Any

from ringfence.core.errors import InvalidInput


def encode(**fields: Any) -> str:
    raw = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, **fields: type | tuple[type, ...]) -> dict[str, Any] | None:
    """The cursor's fields; with `fields`, each must be present with that type (else `InvalidInput`)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this service issued") from exc
    if not isinstance(value, dict) or not all(isinstance(value.get(k), t) for k, t in fields.items()):
        raise InvalidInput("cursor is not one this service issued")
    return value
