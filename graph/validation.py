"""Input checks shared by the API, the loader and the stores: the id format, and the card-number
policy (`ringfence.core.cards`) applied to domain input."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ringfence.core.cards import contains_pan, holds_pan
from ringfence.core.errors import InvalidInput, PanNotAllowed

ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):  # `match` takes "abc\n" ($ before a final newline)
        raise InvalidInput(f"{what} must be 1-128 characters of [A-Za-z0-9_.:@-]")
    if contains_pan(value):
        raise PanNotAllowed(what)
    return value


def check_no_pan(values: Iterable[object], where: str) -> None:
    if any(holds_pan(v) for v in values):
        raise PanNotAllowed(where)
