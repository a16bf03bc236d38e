"""Identifiers: mark one benign (a shared office wifi, a payroll card) so it links nobody."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from ringfence.api.deps import RequireLabel, StoreDep
from ringfence.api.errors import responses
from ringfence.api.schemas import BenignIn, BenignPublic, IdType
from ringfence.graph.model import IdentifierKey
from ringfence.graph.validation import ID_PATTERN

router = APIRouter(prefix="/v1/identifiers", tags=["identifiers"])


@router.post("/{type}/{id}/benign", dependencies=[RequireLabel],
             responses=responses(400, 401, 403, 413, 422, 429, 503),
             summary="Mark an identifier benign (body optional: `{\"benign\": true}`)")
def set_benign(
    type: IdType,  # noqa: A002 - the path's name
    id: Annotated[str, Path(pattern=ID_PATTERN)],  # noqa: A002
    store: StoreDep,
    body: Annotated[BenignIn | None, Body()] = None,
) -> BenignPublic:
    benign = True if body is None else body.benign
    store.set_benign(IdentifierKey(type, id), benign)
    return BenignPublic(type=type, id=id, benign=benign)
