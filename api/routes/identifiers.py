"""Identifiers: read one with its accounts; mark one benign (a shared office wifi, a payroll card)
so it links nobody."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from ringfence.api.deps import RequireInvestigate, RequireLabel, StoreDep
from ringfence.api.errors import responses
from ringfence.api.pagination import Cursor, CursorSealDep, Limit
from ringfence.api.schemas import (
    BenignIn,
    BenignPublic,
    IdentifierAccountPublic,
    IdentifierPublic,
    IdType,
    clamp_risk,
)
from ringfence.graph.model import IdentifierKey
from ringfence.graph.validation import ID_PATTERN
from ringfence.services import investigation

router = APIRouter(prefix="/v1/identifiers", tags=["identifiers"])
IdentifierId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/{type}/{id}", dependencies=[RequireInvestigate], responses=responses(400, 401, 403, 404, 422, 429, 503),
            summary="An identifier and its accounts, earliest linked first")
def get_identifier(
    type: IdType,  # noqa: A002 - the path's name
    id: IdentifierId,  # noqa: A002
    store: StoreDep,
    seal: CursorSealDep,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> IdentifierPublic:
    view = investigation.identifier_view(store, IdentifierKey(type, id), seal.open(cursor), limit)
    info = view.info
    data = []
    for x in view.page.data:
        account = view.accounts.get(x.account_id)
        data.append(IdentifierAccountPublic(
            account_id=x.account_id, first_seen=x.first_seen,
            risk=None if account is None else clamp_risk(account.risk),
            label=None if account is None else account.label,
            ring_id=None if account is None else account.ring_id))
    return IdentifierPublic(type=type, id=id, accounts=info.accounts, benign=info.benign, first_seen=info.first_seen,
                            last_seen=info.last_seen, ring_ids=info.ring_ids, data=data,
                            next_cursor=seal.seal(view.page.next_cursor))


@router.post("/{type}/{id}/benign", dependencies=[RequireLabel],
             responses=responses(400, 401, 403, 413, 422, 429, 503),
             summary="Mark an identifier benign (body optional: `{\"benign\": true}`)")
def set_benign(
    type: IdType,  # noqa: A002 - the path's name
    id: IdentifierId,  # noqa: A002
    store: StoreDep,
    body: Annotated[BenignIn | None, Body()] = None,
) -> BenignPublic:
    benign = True if body is None else body.benign
    store.set_benign(IdentifierKey(type, id), benign)
    return BenignPublic(type=type, id=id, benign=benign)
