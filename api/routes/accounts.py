"""Accounts: upsert one (with an online score) or a batch, read, list, risk, subgraph."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from ringfence.api.batchbody import AccountDraft, PreparedBatch
from ringfence.api.deps import (
    RequireInvestigate,
    RequireReadAccount,
    RequireScore,
    SettingsDep,
    StoreDep,
    WriteServices,
    WriteServicesDep,
)
from ringfence.api.errors import responses
from ringfence.api.jsonbody import OrjsonRoute
from ringfence.api.pagination import Cursor, Limit, MinRisk, checked_cursor
from ringfence.api.risk import present, score_now, upsert_and_score
from ringfence.api.schemas import (
    AccountBatchIn,
    AccountCreated,
    AccountIn,
    AccountPage,
    AccountPublic,
    BatchResult,
    Label,
    RiskPublic,
    SubgraphEdge,
    SubgraphNode,
    SubgraphPublic,
)
from ringfence.graph.model import AccountIn as DomainAccount
from ringfence.graph.model import utcnow
from ringfence.graph.store import GraphStore
from ringfence.graph.validation import ID_PATTERN
from starlette.concurrency import run_in_threadpool

from ringfence.core.errors import NotFound, StoreUnavailable

if TYPE_CHECKING:
    from ringfence.workers.dispatch import Dispatcher

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=OrjsonRoute)
AccountId = Annotated[str, Path(pattern=ID_PATTERN, description="Account id")]
_READ = responses(401, 403, 404, 422, 429, 503)


def _with_created_at(store: GraphStore, accounts: Sequence[AccountIn | AccountDraft]) -> list[DomainAccount]:
    """Domain accounts; an absent `created_at` is the stored one for known accounts, else now.

    Links without `seen_at` are dated by their account's `created_at`, so taking the stored
    value makes a repeated body a no-op instead of moving those links' `last_seen`.
    """
    undated = [a.id for a in accounts if a.created_at is None]
    known = {a.id: a.created_at for a in store.get_accounts(undated)} if undated else {}
    now = utcnow()
    return [a.to_domain(known.get(a.id, now)) for a in accounts]


def _account(store: GraphStore, account_id: str) -> AccountPublic:
    account = store.get_account(account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return AccountPublic.of(account)


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


def _upsert(body: AccountIn, services: WriteServices, score: str) -> AccountCreated:
    store, settings, dispatcher = services.store, services.settings, services.dispatcher
    with services.write_gate:
        if score == "async":
            # A 503 must mean "nothing stored": refuse before writing while the broker is down.
            dispatcher.ensure_available()
        # The score request is stored with the account, in one transaction: if the broker
        # loses the message (or refuses it below), the rescore beat still finds the account.
        accounts = _with_created_at(store, [body])
        if score == "sync":
            account, risk = upsert_and_score(store, settings, accounts[0])
            return AccountCreated(account=account, risk=risk, job_id=None)
        store.upsert_accounts(accounts, request_scores=score != "none")
        job_id = _queue_score(dispatcher, body.id) if score == "async" else None
        return AccountCreated(account=_account(store, body.id), risk=None, job_id=job_id)


def _queue_score(dispatcher: Dispatcher, account_id: str) -> str | None:
    """The score's task id, or `None` if the broker failed after the account was stored.

    The account is stored whole and its score request with it, so the answer is still 201:
    the rescore beat queues the score once the broker is back (`job_id` null says so).
    """
    try:
        return dispatcher.score_async(account_id)
    except StoreUnavailable as exc:
        log.warning("account %s stored; queueing its score failed (%s), the rescore beat will", account_id, exc)
        return None


@router.post(
    "/batch", dependencies=[RequireScore], responses=responses(400, 401, 403, 413, 422, 429, 503),
    summary="Upsert up to 10,000 accounts and 100,000 links, all or nothing (no scoring)",
)
def upsert_batch(body: AccountBatchIn, store: StoreDep) -> BatchResult:
    # the fast road (`api.batchbody`) hands over checked drafts instead of model instances
    drafts = body.drafts if isinstance(body, PreparedBatch) else body.accounts
    accounts, links = store.upsert_accounts(_with_created_at(store, drafts))
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
    stored = None if refresh == "true" else store.get_score(id)
    if stored is None:
        if store.missing_accounts([id]):
            raise NotFound(f"account {id} not found")
        stored = score_now(store, settings, id)
    return present(store, stored)


@router.get("/{id}/subgraph", dependencies=[RequireInvestigate], responses=_READ, response_model_exclude_none=True)
def get_subgraph(
    id: AccountId,  # noqa: A002
    store: StoreDep,
    settings: SettingsDep,
    hops: Annotated[int, Query(ge=1, le=3)] = 1,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Hub cap; default: the server's")] = None,
) -> SubgraphPublic:
    sub = store.neighbourhood([id], hops, hub_cap=limit or settings.hub_cap)
    if id not in sub.accounts:
        raise NotFound(f"account {id} not found")
    # the subgraph carries its accounts' rings; their risks in one store call (not one per node)
    risks = {a.id: a.risk for a in store.get_accounts(list(sub.accounts))}
    nodes: list[SubgraphNode] = []
    for account_id, row in sub.accounts.items():
        risk = risks.get(account_id)
        nodes.append(SubgraphNode(
            id=account_id, kind="account", label=row.label, ring_id=sub.rings.get(account_id),
            risk=None if risk is None else min(1.0, max(0.0, risk)),
        ))
    capped = set(sub.capped)
    for key, degree in sub.identifiers.items():
        nodes.append(SubgraphNode(id=key.id, kind=key.type, degree=degree, capped=key in capped,
                                  benign=key in sub.benign))
    edges = [SubgraphEdge(source=a, target=k.id, type=k.type) for a, k, _ in sub.edges]
    return SubgraphPublic(nodes=nodes, edges=edges, truncated=bool(sub.capped))
