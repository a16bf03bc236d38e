"""Account attributes as the stores keep them, JSON text: written by a load for every account, read
for every neighbour of an online score."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ringfence.core.json_input import may_hold_long_int


def load_attributes(text: str | bytes) -> dict[str, Any]:
    """What `json.loads` gives, ~5x faster: orjson, and the stdlib for what orjson refuses (NaN,
    infinities, lone surrogates) or would change (integers beyond 64 bits, `core.json_input`)."""
    if not may_hold_long_int(text):
        try:
            return orjson.loads(text)  # type: ignore[no-any-return]
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)  # type: ignore[no-any-return]


def encode_attributes(attributes: dict[str, Any]) -> str:
    """What the Neo4j store (and its bulk import) writes as an account's `attributes`: compact JSON
    with sorted keys. orjson (a load writes one per account; the stdlib took 5 µs of each link's
    client time), else the stdlib for what orjson refuses or would change: integers beyond 64 bits,
    and NaN and infinities, which orjson writes as null."""
    try:
        out = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS)
        if b"null" not in out:
            return out.decode()
    except TypeError:
        pass
    # Escaped: a lone surrogate (which orjson refuses) cannot be sent as UTF-8.
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"))
