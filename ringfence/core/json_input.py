"""JSON from clients and files (request bodies, `ringfence load` lines): orjson's speed and
strictness, with every integer kept exact.

orjson refuses what is not JSON (`NaN`, `Infinity`, lone surrogates, invalid UTF-8), which we
want, but reads an integer beyond 64 bits as a float without a word: an attribute of
1180591620717411303425 was stored as 1.1805916207174113e+21. Such an integer has at least 19
digits, so text with a run of 19 is parsed by the standard library instead, held to orjson's
rules: the same values, and the same refusals.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_RUN = b"0" * 19


def may_hold_long_int(data: str | bytes) -> bool:
    """True if `data` has a run of 19 ASCII digits: where an integer orjson reads as a float may
    be. Digits mapped to one byte, then a substring search: ~1 µs for a 740-byte record, where
    the regex `\\d{19}` took ~10 (it tries a match at every position), ×2.6 a record's parse."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    return _RUN in raw.translate(_DIGITS_AS_ZERO)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: str | bytes) -> Any:
    """`data` parsed, integers exact; `json.JSONDecodeError` (orjson's error is one) for text
    that is not JSON, as orjson judges it."""
    if not may_hold_long_int(data):
        return orjson.loads(data)
    orjson.loads(data)  # orjson's verdict on everything but the integers (they parse as floats)
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # nesting past the stdlib's recursion limit (orjson allows 1024)
        raise json.JSONDecodeError(str(exc), data if isinstance(data, str) else "", 0) from exc
    return value
