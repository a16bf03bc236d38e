"""The card-number policy: what counts as a raw card number (PAN), decided in this one module.

A PAN is 13–19 digits, optionally separated by single spaces or dashes, that pass the Luhn
check, anywhere in a string; or an integral JSON number whose digits are one. ringfence
refuses them everywhere (ids, attribute names and values, label notes and sources, query
strings) and never echoes, logs or stores one: every check in the product calls this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

PAN_MESSAGE = "A raw card number was found in the request; send a token or fingerprint instead."
REDACTED = "<redacted>"

# 13–19 digits, optionally separated by single spaces or dashes, anywhere in a string.
_PAN_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# Numbers below 10**12 have at most 12 digits: never a card number.
_SMALLEST = 10**12
# Digits, spaces and dashes to 1, all else to 0: a card number needs 13 ones in a row.
_CARD_CHARS = bytes(int(b in b"0123456789 -") for b in range(256))
_CARD_RUN = b"\x01" * 13


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def contains_pan(text: str) -> bool:
    """True if `text` holds a 13–19 digit run (spaces/dashes allowed) that passes Luhn."""
    if len(text) < 13 or _PAN_CANDIDATE.search(text) is None:  # the common case, kept cheap
        return False
    return any(luhn_ok(re.sub(r"[ -]", "", m.group())) for m in _PAN_CANDIDATE.finditer(text))


def number_is_pan(value: int | float) -> bool:
    """True if a JSON number is integral and its digits are a card number."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) >= _SMALLEST and contains_pan(str(value))
    return (math.isfinite(value) and value.is_integer() and _SMALLEST <= abs(value) < 1e20
            and contains_pan(str(int(value))))


def holds_pan(value: Any) -> bool:
    """True if any string, dict key or number inside the JSON-like `value` is a card number."""
    if isinstance(value, str):
        return contains_pan(value)
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return number_is_pan(value)
    if isinstance(value, dict):
        return any(holds_pan(k) or holds_pan(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_pan(v) for v in value)
    return False


def any_pan(values: Iterable[object]) -> bool:
    return any(holds_pan(v) for v in values)


def may_hold_pan(raw: bytes) -> bool:
    """False if no string or number in the JSON text `raw` can hold a card number (a fast
    pre-check on request bytes; True means "look closer", not "refuse")."""
    if b"\\u" in raw:  # an escape may spell a digit, space or dash
        return True
    if not raw.isascii():  # `contains_pan` reads Unicode digits too; raises on bad UTF-8
        return contains_pan(raw.decode("utf-8"))
    # The scan and `contains_pan` see the same digit runs: JSON puts them in the text as they are.
    return raw.translate(_CARD_CHARS).find(_CARD_RUN) >= 0 and contains_pan(raw.decode("ascii"))


def redact_location(loc: Sequence[object]) -> list[object]:
    """An error location with every part that holds a card number replaced by `REDACTED`."""
    return [REDACTED if isinstance(p, str) and contains_pan(p) else p for p in loc]


_DECIMAL = re.compile(r"^[+-]?([0-9]*)\.[0-9]+([eE][+-]?[0-9]+)?$")


def query_holds_pan(name: str, value: str) -> bool:
    """True if a query parameter's name or value is a card number. A decimal fraction's digits
    after the point are not one (`min_risk=0.2560880073938272`)."""
    match = _DECIMAL.match(value)
    return contains_pan(name) or contains_pan(match.group(1) if match else value)


def redact(text: str) -> str:
    """`text` with every card number replaced by `[REDACTED-PAN]` (for log lines)."""

    def mask(m: re.Match[str]) -> str:
        return "[REDACTED-PAN]" if luhn_ok(re.sub(r"[ -]", "", m.group())) else m.group()

    return _PAN_CANDIDATE.sub(mask, text)
