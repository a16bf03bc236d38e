"""Accounts: upsert one (with an online score) or a batch, read, list, risk, subgraph."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from ringfence.api.batchbody import PreparedBatch
from ringfence.api.deps import (
    RequireInvestigate,
    RequireReadAccount,
    RequireScore,
    SettingsDep,
    StoreDep,
    WriteServices,
    WriteServicesDep,
)
from ringfence.api.errors import FILE_RESPONSES, responses
from ringfence.api.jsonbody import OrjsonRoute
from ringfence.api.pagination import Cursor, Limit, MinRisk, checked_cursor
from ringfence.api.schemas import (
    AccountBatchIn,
    AccountCreated,
    AccountIn,
    AccountPage,
    AccountPublic,
    BatchResult,
    Label,
    NodeLinkGraph,
    PathNode,
    PathPublic,
    PathsPublic,
    PathTarget,
    RiskPublic,
    SubgraphEdge,
    SubgraphNode,
    SubgraphPublic,
    clamp_risk,
)
from ringfence.core.errors import NotFound, found
from ringfence.graph.investigation import MEDIA_TYPES, ExportFormat
from ringfence.graph.store import GraphStore
from ringfence.graph.validation import ID_PATTERN
from ringfence.services import ingest, investigation, scoring

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=OrjsonRoute)
AccountId = Annotated[str, Path(pattern=ID_PATTERN, description="Account id")]
_READ = responses(401, 403, 404, 422, 429, 503)


def _account(store: GraphStore, account_id: str) -> AccountPublic:
    return AccountPublic.of(found(store.get_account(account_id), f"account {account_id} not found"))


@router.post(
    "", status_code=201, response_model=AccountCreated, dependencies=[RequireScore],
    responses=responses(400, 401, 403, 413, 422, 429, 503), summary="Upsert one account with its links, then score it",
)
async def upsert_account(
    body: AccountIn,
    services: WriteServicesDep,
    score: Annotated[Literal["sync", "async", "none"], Query()] = "async",
) -> Response:
    # The hot route: one thread hop for all the blocking work, and the answer serialized by
    # pydantic-core from the model built here (a plain `def` returning the model costs a second
    # hop, a revalidation of the model and a stdlib `json.dumps`).
    created = await run_in_threadpool(_upsert, body, services, score)
    return Response(created.model_dump_json(), status_code=201, media_type="application/json")


def _upsert(body: AccountIn, services: WriteServices, score: ingest.ScoreMode) -> AccountCreated:
    with services.write_gate:
        done = ingest.ingest_one(services.store, services.settings, services.dispatcher, body, score)
    risk = None if done.score is None else RiskPublic.of(done.score, done.ring)
    return AccountCreated(account=AccountPublic.of(done.account), risk=risk, job_id=done.job_id)


@router.post(
    "/batch", dependencies=[RequireScore], responses=responses(400, 401, 403, 413, 422, 429, 503),
    summary="Upsert up to 10,000 accounts and 100,000 links, all or nothing (no scoring)",
)
def upsert_batch(body: AccountBatchIn, store: StoreDep) -> BatchResult:
    # the fast road (`api.batchbody`) hands over checked drafts instead of model instances
    drafts = body.drafts if isinstance(body, PreparedBatch) else body.accounts
    accounts, links = ingest.ingest_batch(store, drafts)
    return BatchResult(accounts=accounts, links=links)


@router.get("", dependencies=[RequireInvestigate], responses=responses(401, 403, 422, 429, 503))
def list_accounts(
    store: StoreDep,
    order: Annotated[Literal["risk_desc", "id"], Query()] = "risk_desc",
    min_risk: MinRisk = None,
    label: Annotated[Label | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> AccountPage:
    page = store.list_accounts(order, min_risk, label, checked_cursor(cursor), limit)
    return AccountPage(data=[AccountPublic.of(a) for a in page.data], next_cursor=page.next_cursor)


@router.get("/{id}", dependencies=[RequireReadAccount], responses=_READ, summary="Read one account")
def get_account(id: AccountId, store: StoreDep) -> AccountPublic:  # noqa: A002 - the contract's name
    return _account(store, id)


@router.get("/{id}/risk", dependencies=[RequireScore], responses=_READ)
def get_risk(
    id: AccountId,  # noqa: A002
    store: StoreDep,
    settings: SettingsDep,
    refresh: Annotated[Literal["true", "false"], Query(description="`true` recomputes now")] = "false",
) -> RiskPublic:
    score = scoring.current_risk(store, settings, id, refresh=refresh == "true")
    return RiskPublic.of(score, scoring.ring_of(store, score))


@router.get("/{id}/subgraph", dependencies=[RequireInvestigate], responses=_READ | FILE_RESPONSES,
            response_model=SubgraphPublic | NodeLinkGraph, response_model_exclude_none=True)
def get_subgraph(
    id: AccountId,  # noqa: A002
    store: StoreDep,
    settings: SettingsDep,
    hops: Annotated[int, Query(ge=1, le=3)] = 1,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Hub cap; default: the server's")] = None,
    format: Annotated[ExportFormat | None, Query(description="A file instead of the JSON object")] = None,  # noqa: A002
) -> SubgraphPublic | Response:
    sub = store.neighbourhood([id], hops, hub_cap=limit or settings.hub_cap)
    if id not in sub.accounts:
        raise NotFound(f"account {id} not found")
    if format is not None:
        return Response(investigation.subgraph_file(store, sub, format), media_type=MEDIA_TYPES[format])
    # the subgraph carries its accounts' rings; their risks in one store call (not one per node)
    risks = {a.id: a.risk for a in store.get_accounts(list(sub.accounts))}
    nodes: list[SubgraphNode] = []
    for account_id, row in sub.accounts.items():
        risk = risks.get(account_id)
        nodes.append(SubgraphNode(
            id=account_id, kind="account", label=row.label, ring_id=sub.rings.get(account_id),
            risk=clamp_risk(risk),
        ))
    capped = set(sub.capped)
    for key, degree in sub.identifiers.items():
        nodes.append(SubgraphNode(id=key.id, kind=key.type, degree=degree, capped=key in capped,
                                  benign=key in sub.benign))
    edges = [SubgraphEdge(source=a, target=k.id, type=k.type) for a, k, _ in sub.edges]
    return SubgraphPublic(nodes=nodes, edges=edges, truncated=bool(sub.capped))


@router.get("/{id}/paths", dependencies=[RequireInvestigate], responses=_READ,
            summary="Shortest paths through shared identifiers to labelled fraud or flagged rings")
def get_paths(
    id: AccountId,  # noqa: A002
    store: StoreDep,
    settings: SettingsDep,
    to: Annotated[Literal["fraud", "ring"], Query(description="Labelled fraud, or members of flagged rings")] = "fraud",
    max_hops: Annotated[int, Query(ge=2, le=4, description="Account-to-account steps; 2 unless asked")] = 2,
    limit: Limit = 100,
) -> PathsPublic:
    found_paths, truncated = investigation.paths(store, settings, id, to, max_hops, limit)
    return PathsPublic(truncated=truncated, data=[
        PathPublic(hops=f.path.hops, nodes=[PathNode(id=n.id, kind=n.kind) for n in f.path.steps],  # type: ignore[arg-type]
                   target=PathTarget(account_id=f.path.target, label=f.label, ring_id=f.ring_id))
        for f in found_paths])
