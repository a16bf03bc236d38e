"""Online scores: compute with the active model, store, and the safety net under the broker.

Every function takes and returns domain types; `api` renders them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from ringfence.core.clock import utcnow
from ringfence.core.errors import ModelUnavailable, NotFound, RingfenceError
from ringfence.core.settings import Settings
from ringfence.gnn.score import current_scorer
from ringfence.graph.model import Account, AccountIn, RingSummary, Score
from ringfence.graph.store import GraphStore

log = logging.getLogger(__name__)


@contextmanager
def model_guard() -> Iterator[None]:
    """A model that fails to load or to score is the server's fault: 503 `model_unavailable`,
    never a client's 422 or a bare 500 (one log line, no traceback)."""
    try:
        yield
    except RingfenceError:
        raise
    except Exception as exc:
        log.error("the active model failed: %s", type(exc).__name__)
        raise ModelUnavailable("The active model cannot score; an operator must activate a good version.") from exc


def score_now(store: GraphStore, settings: Settings, account_id: str) -> Score:
    """Score one account from the graph as it is now and store the score (unknown: `NotFound`)."""
    with model_guard():
        scores = current_scorer(settings).score_accounts(store, [account_id])
    if not scores:
        raise NotFound(f"account {account_id} not found")
    store.write_scores(scores)
    return scores[0]


def current_risk(store: GraphStore, settings: Settings, account_id: str, refresh: bool) -> Score:
    """The stored score, or one computed now when there is none or `refresh` asks for it."""
    stored = None if refresh else store.get_score(account_id)
    if stored is not None:
        return stored
    if store.missing_accounts([account_id]):
        raise NotFound(f"account {account_id} not found")
    return score_now(store, settings, account_id)


def upsert_and_score(
    store: GraphStore, settings: Settings, account: AccountIn
) -> tuple[Account, Score, RingSummary | None]:
    """Store one account (with a score request), score it from the graph as the upsert left
    it and store the score; returns the account as stored, its score and its ring.

    Two store calls (two transactions on Neo4j): the upsert reads back the subgraph to score,
    and the score's write reads back what the answer shows.
    """
    with model_guard():
        scorer = current_scorer(settings)
    sub, as_of = store.upsert_and_neighbourhood([account], hops=scorer.hops, hub_cap=settings.hub_cap)
    with model_guard():
        score = scorer.score_subgraph(sub, [account.id], as_of)[0]
    stored, ring = store.write_score_and_read(score)
    return stored, score, ring


def ring_of(store: GraphStore, score: Score) -> RingSummary | None:
    return None if score.ring_id is None else store.ring_summary(score.ring_id)


def score_one(store: GraphStore, settings: Settings, account_id: str) -> dict[str, Any]:
    """A queued score (the worker's task): score with the active model and store it unless a
    newer score exists (the store's `as_of` guard), so a redelivered message is harmless."""
    try:
        with model_guard():
            scores = current_scorer(settings).score_accounts(store, [account_id])
    except NotFound:
        log.warning("score_account: account %s does not exist; nothing to score", account_id)
        return {"account_id": account_id, "written": 0}
    written = store.write_scores(scores)
    risk = scores[0].risk if scores else None
    return {"account_id": account_id, "risk": risk, "written": written}


def rescore_due(store: GraphStore, settings: Settings, send: Callable[[str], object]) -> int:
    """Queue again (with `send`) the scores requested long ago and never written; returns how many.

    The store records each requested score in the transaction that stores the account, so
    a score the broker lost is still listed here. "Long ago" (`rescore_after_s`) is far
    beyond a normal queue wait; a duplicate is harmless anyway (scores are idempotent).
    """
    due = utcnow() - timedelta(seconds=settings.rescore_after_s)
    ids = store.pending_scores(due, settings.rescore_batch)
    for account_id in ids:
        send(account_id)
    if ids:
        log.warning("rescore_pending: queued %d score(s) requested before %s and never written", len(ids), due)
    return len(ids)
