"""Rings of the current sweep: riskiest first, and one ring with members and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ringfence.api.deps import RequireInvestigate, StoreDep
from ringfence.api.errors import responses
from ringfence.api.pagination import Cursor, CursorSealDep, Limit, MinRisk
from ringfence.api.schemas import RingPage, RingPublic, RingSummaryPublic
from ringfence.core.errors import found
from ringfence.graph.validation import ID_PATTERN

router = APIRouter(prefix="/v1/rings", tags=["rings"])


@router.get("", dependencies=[RequireInvestigate], responses=responses(400, 401, 403, 422, 429, 503))
def list_rings(
    store: StoreDep, seal: CursorSealDep, min_risk: MinRisk = None, cursor: Cursor = None, limit: Limit = 100
) -> RingPage:
    # A ring summary is small and fixed in size: 1,000 of them stay far under the byte cap.
    page = store.list_rings(min_risk, seal.open(cursor), limit)
    return RingPage(data=[RingSummaryPublic.of(r) for r in page.data], next_cursor=seal.seal(page.next_cursor))


@router.get("/{id}", dependencies=[RequireInvestigate], responses=responses(401, 403, 404, 422, 429, 503))
def get_ring(id: Annotated[str, Path(pattern=ID_PATTERN)], store: StoreDep) -> RingPublic:  # noqa: A002
    return RingPublic.of_ring(found(store.get_ring(id), f"ring {id} not found in the current sweep"))
