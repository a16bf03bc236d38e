"""Input checks shared by the API, the loader and the stores: id format and raw card numbers."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ringfence.core.errors import InvalidInput, PanNotAllowed

ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)
# 13–19 digits, optionally separated by single spaces or dashes, anywhere in a string.
_PAN_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


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


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidInput(f"{what} must be 1-128 characters of [A-Za-z0-9_.:@-]")
    if contains_pan(value):
        raise PanNotAllowed(what)
    return value


def check_no_pan(values: Iterable[object], where: str) -> None:
    for v in values:
        if isinstance(v, str) and contains_pan(v):
            raise PanNotAllowed(where)
