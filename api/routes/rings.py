"""Rings of the current sweep: riskiest first, and one ring with members and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ringfence.api.deps import RequireInvestigate, SettingsDep, StoreDep
from ringfence.api.errors import FILE_RESPONSES, responses
from ringfence.api.pagination import Cursor, Limit, MinRisk, checked_cursor
from ringfence.api.schemas import NodeLinkGraph, RingPage, RingPublic, RingSummaryPublic
from ringfence.graph.investigation import MEDIA_TYPES, ExportFormat
from ringfence.graph.validation import ID_PATTERN
from ringfence.services import investigation

router = APIRouter(prefix="/v1/rings", tags=["rings"])


@router.get("", dependencies=[RequireInvestigate], responses=responses(401, 403, 422, 429, 503))
def list_rings(store: StoreDep, min_risk: MinRisk = None, cursor: Cursor = None, limit: Limit = 100) -> RingPage:
    page = store.list_rings(min_risk, checked_cursor(cursor), limit)
    return RingPage(data=[RingSummaryPublic.of(r) for r in page.data], next_cursor=page.next_cursor)


@router.get("/{id}", dependencies=[RequireInvestigate], responses=responses(401, 403, 404, 422, 429, 503))
def get_ring(id: Annotated[str, Path(pattern=ID_PATTERN)], store: StoreDep) -> RingPublic:  # noqa: A002
    return RingPublic.of_ring(*investigation.ring_with_links(store, id))


@router.get("/{id}/graph", dependencies=[RequireInvestigate], responses=responses(401, 403, 404, 422, 429, 503)
            | FILE_RESPONSES, response_model=NodeLinkGraph, summary="The ring as a file for Gephi, yEd or Linkurious")
def get_ring_graph(
    id: Annotated[str, Path(pattern=ID_PATTERN)],  # noqa: A002
    store: StoreDep,
    settings: SettingsDep,
    format: Annotated[ExportFormat, Query()] = "graphml",  # noqa: A002
) -> Response:
    return Response(investigation.ring_file(store, settings, id, format), media_type=MEDIA_TYPES[format])
