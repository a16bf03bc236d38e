"""Rings of the current sweep: riskiest first, and one ring with members and history; a ring's case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ringfence.api.deps import RequireInvestigate, RequireLabel, SettingsDep, StoreDep
from ringfence.api.errors import FILE_RESPONSES, responses
from ringfence.api.pagination import Cursor, CursorSealDep, Limit, MinRisk
from ringfence.api.schemas import CaseIn, CasePublic, NodeLinkGraph, RingPage, RingPublic, RingSummaryPublic
from ringfence.graph.investigation import MEDIA_TYPES, ExportFormat
from ringfence.graph.model import CaseFilter
from ringfence.graph.validation import ID_PATTERN
from ringfence.services import cases, investigation

router = APIRouter(prefix="/v1/rings", tags=["rings"])


@router.get("", dependencies=[RequireInvestigate], responses=responses(400, 401, 403, 422, 429, 503))
def list_rings(
    store: StoreDep, seal: CursorSealDep, min_risk: MinRisk = None, cursor: Cursor = None, limit: Limit = 100,
    case_status: Annotated[CaseFilter | None, Query(description="The case's status; `none`: rings nobody opened")]
    = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> RingPage:
    # A ring summary is small and fixed in size: 1,000 of them stay far under the byte cap.
    page = store.list_rings(min_risk, seal.open(cursor), limit, case_status=case_status, assignee=assignee)
    return RingPage(data=[RingSummaryPublic.of(r) for r in page.data], next_cursor=seal.seal(page.next_cursor))


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


RingId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.put("/{id}/case", dependencies=[RequireLabel], responses=responses(400, 401, 403, 404, 413, 422, 429, 503),
            summary="Open or move the ring's case (contract 1.1)")
def put_case(id: RingId, body: CaseIn, request: Request, store: StoreDep) -> CasePublic:  # noqa: A002
    case = cases.move_case(store, id, body.status, request.state.key_id, note=body.note, assignee=body.assignee,
                           assignee_given="assignee" in body.model_fields_set, label_members=body.label_members)
    return CasePublic.of(case)


@router.get("/{id}/case", dependencies=[RequireInvestigate], responses=responses(401, 403, 404, 422, 429, 503),
            summary="The ring's case, also after the ring dissolved (an addition to contract 1.1)")
def get_case(id: RingId, store: StoreDep) -> CasePublic:  # noqa: A002
    return CasePublic.of(cases.read_case(store, id))
