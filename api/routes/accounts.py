"""Accounts: upsert one (with an online score) or a batch, read, list, risk, label history, subgraph."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import orjson
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
from ringfence.api.pagination import Cursor, CursorSealDep, Limit, MinRisk
from ringfence.api.schemas import (
    AccountBatchIn,
    AccountCreated,
    AccountIn,
    AccountPage,
    AccountPublic,
    BatchResult,
    Label,
    LabelEventPublic,
    LabelHistory,
    NodeLinkGraph,
    PathNode,
    PathPublic,
    PathsPublic,
    PathTarget,
    RiskPublic,
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
# Every answer stays under 5 MB, hub-shaped data included (`truncated` says when a cap cut it).
# A page's cost is its rendering (a 256-link account is ~42 KB of JSON, 768 timestamps): 2 MiB
# keeps a hub-shaped page well inside 500 ms of CPU, and 1,000 plain accounts (~0.7 MB) uncut.
MAX_PAGE_BYTES = 2 * 1024 * 1024
MAX_SUBGRAPH_NODES = 2000
MAX_SUBGRAPH_EDGES = 20000


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


@router.get("", dependencies=[RequireInvestigate], responses=responses(400, 401, 403, 422, 429, 503),
            response_model=AccountPage)
def list_accounts(
    store: StoreDep,
    seal: CursorSealDep,
    order: Annotated[Literal["risk_desc", "id"], Query()] = "risk_desc",
    min_risk: MinRisk = None,
    label: Annotated[Label | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    # Hub-shaped data makes accounts large (256 links each): the page is read in chunks and
    # stops at the byte cap; a chunk that crosses it is read again, shorter, so that the store's
    # cursor still points right after the page's last item. Chunks after the first are sized by
    # the bytes an account took so far, so large accounts are read (and rendered) about once.
    items: list[bytes] = []
    after, size, truncated = seal.open(cursor), 0, False
    chunk = min(limit, 25)  # 25 hub-shaped accounts are ~1 MiB; plain ones grow the chunks fast
    while len(items) < limit:
        if items:
            chunk = max(1, min(chunk * 2, (MAX_PAGE_BYTES - size) * len(items) // size))
        want = min(chunk, limit - len(items))
        page = store.list_accounts(order, min_risk, label, after, want)
        rendered = [AccountPublic.of(a).model_dump_json().encode() for a in page.data]
        fit = _fitting(rendered, MAX_PAGE_BYTES - size, first=not items)
        if fit < len(rendered):
            truncated = True
            if fit == 0:
                break  # the cursor stays after the last item sent
            page = store.list_accounts(order, min_risk, label, after, fit)
            rendered = [AccountPublic.of(a).model_dump_json().encode() for a in page.data]
        items += rendered
        size += sum(len(r) + 1 for r in rendered)
        after = page.next_cursor
        if truncated or after is None or len(page.data) < want:
            break
    body = b'{"data":[' + b",".join(items) + b'],"next_cursor":' + orjson.dumps(seal.seal(after)) + \
        b',"truncated":' + (b"true" if truncated else b"false") + b"}"
    return Response(body, media_type="application/json")


def _fitting(rendered: list[bytes], room: int, first: bool) -> int:
    """How many of `rendered` fit in `room` bytes (at least one for a page's first item)."""
    used = 0
    for n, item in enumerate(rendered):
        used += len(item) + 1
        if used > room:
            return max(n, int(first))
    return len(rendered)


@router.get("/{id}", dependencies=[RequireReadAccount], responses=_READ, summary="Read one account")
def get_account(id: AccountId, store: StoreDep) -> AccountPublic:  # noqa: A002 - the contract's name
    return _account(store, id)


@router.get("/{id}/labels", dependencies=[RequireInvestigate], responses=_READ,
            summary="The account's label history, oldest first (an addition: the /ui/ page's account panel)")
def get_label_history(id: AccountId, store: StoreDep) -> LabelHistory:  # noqa: A002
    found(store.get_account(id), f"account {id} not found")
    return LabelHistory(account_id=id, data=[LabelEventPublic(label=e.label, source=e.source, note=e.note, at=e.at)
                                             for e in store.label_history(id)])


@router.get("/{id}/reasons", dependencies=[RequireInvestigate], responses=_READ,
            summary="The account's stored Risk with its reasons, for investigators (an addition: /risk is score's)")
def get_reasons(id: AccountId, store: StoreDep, settings: SettingsDep) -> RiskPublic:  # noqa: A002
    score = scoring.current_risk(store, settings, id, refresh=False)
    return RiskPublic.of(score, scoring.ring_of(store, score))


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
            response_model=SubgraphPublic | NodeLinkGraph)
def get_subgraph(
    id: AccountId,  # noqa: A002
    store: StoreDep,
    settings: SettingsDep,
    hops: Annotated[int, Query(ge=1, le=3)] = 1,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Hub cap; default: the server's")] = None,
    format: Annotated[ExportFormat | None, Query(description="A file instead of the JSON object")] = None,  # noqa: A002
) -> Response:
    # The budget bounds the store's read itself: a hub costs what is kept, not its size.
    sub = store.neighbourhood([id], hops, hub_cap=limit or settings.hub_cap,
                              max_nodes=MAX_SUBGRAPH_NODES, max_edges=MAX_SUBGRAPH_EDGES)
    if id not in sub.accounts:
        raise NotFound(f"account {id} not found")
    if format is not None:
        return Response(investigation.subgraph_file(store, sub, format), media_type=MEDIA_TYPES[format])
    risks = store.get_risks(list(sub.accounts))  # one read, no links
    nodes: list[SubgraphNode] = [
        SubgraphNode(id=a, kind="account", label=row.label, ring_id=sub.rings.get(a), risk=clamp_risk(risks.get(a)))
        for a, row in sub.accounts.items()
    ]
    capped = set(sub.capped)
    nodes += [SubgraphNode(id=key.id, kind=key.type, degree=degree, capped=key in capped, benign=key in sub.benign)
              for key, degree in sub.identifiers.items()]
    # Hub-shaped data holds a quarter of a million edges: plain dicts, no model each.
    edges = [{"source": a, "target": k.id, "type": k.type} for a, k, _ in sub.edges]
    body = {"nodes": [n.model_dump(exclude_none=True) for n in nodes], "edges": edges,
            "truncated": bool(sub.capped) or sub.truncated}
    return Response(orjson.dumps(body), media_type="application/json")


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
    found_paths, truncated = investigation.paths(store, settings, id, to, max_hops, limit,
                                                 max_nodes=MAX_SUBGRAPH_NODES, max_edges=MAX_SUBGRAPH_EDGES)
    return PathsPublic(truncated=truncated, data=[
        PathPublic(hops=f.path.hops, nodes=[PathNode(id=n.id, kind=n.kind) for n in f.path.steps],  # type: ignore[arg-type]
                   target=PathTarget(account_id=f.path.target, label=f.label, ring_id=f.ring_id))
        for f in found_paths])
