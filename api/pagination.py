"""Query parameters of list endpoints and a check that a cursor is one the store issued."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ringfence.core.errors import InvalidInput
from ringfence.graph import cursor as cursors

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size, 1-1000")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=2048, description="Opaque: `next_cursor` of the previous page"),
]
MinRisk = Annotated[float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False)]


def checked_cursor(cursor: str | None) -> str | None:
    """The cursor unchanged if it decodes to what the stores write (`s`, `r`, `i`), else 422."""
    value = cursors.decode(cursor)
    if value is None:
        return None
    if value and not (
        isinstance(value.get("s", ""), str)
        and isinstance(value.get("i"), str)
        and isinstance(value.get("r", 0), int | float)
        and not isinstance(value.get("r", 0), bool)
    ):
        raise InvalidInput("cursor is not one this service issued")
    return cursor
