"""Ingest: accounts and their links into the store, one with its score or many at once.

Callers hand over drafts (anything with an `id`, an optional `created_at` and `to_domain`):
the API's checked bodies and its batch fast road alike. `api` renders what comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from ringfence.core.clock import utcnow
from ringfence.core.errors import Unavailable, found
from ringfence.core.settings import Settings
from ringfence.graph.model import Account, AccountIn, RingSummary, Score
from ringfence.graph.store import GraphStore
from ringfence.services.dispatch import Dispatcher
from ringfence.services.scoring import upsert_and_score

log = logging.getLogger(__name__)
ScoreMode = Literal["sync", "async", "none"]


class AccountDraft(Protocol):
    """A checked account from a request, not yet dated."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime | None: ...

    def to_domain(self, created_at: datetime) -> AccountIn: ...


@dataclass(frozen=True, slots=True)
class Ingested:
    account: Account
    score: Score | None = None
    ring: RingSummary | None = None
    job_id: str | None = None


def dated(store: GraphStore, drafts: Sequence[AccountDraft]) -> list[AccountIn]:
    """Domain accounts; an absent `created_at` is the stored one for known accounts, else now.

    Links without `seen_at` are dated by their account's `created_at`, so taking the stored
    value makes a repeated body a no-op instead of moving those links' `last_seen`.
    """
    undated = [a.id for a in drafts if a.created_at is None]
    known = {a.id: a.created_at for a in store.get_accounts(undated)} if undated else {}
    now = utcnow()
    return [a.to_domain(known.get(a.id, now)) for a in drafts]


def ingest_one(
    store: GraphStore, settings: Settings, dispatcher: Dispatcher, draft: AccountDraft, score: ScoreMode
) -> Ingested:
    """Store one account; with `sync` score it before returning, with `async` queue its score.

    The score request is stored with the account, in one transaction: if the broker loses the
    message (or refuses it after the write), the rescore beat still finds the account. With
    `async`, a broker known to be down is refused (`Unavailable`) before anything is written.
    """
    if score == "async":
        dispatcher.ensure_available()
    account = dated(store, [draft])[0]
    if score == "sync":
        stored, computed, ring = upsert_and_score(store, settings, account)
        return Ingested(stored, computed, ring)
    store.upsert_accounts([account], request_scores=score != "none")
    job_id = _queue_score(dispatcher, account.id) if score == "async" else None
    return Ingested(found(store.get_account(account.id), f"account {account.id} not found"), job_id=job_id)


def _queue_score(dispatcher: Dispatcher, account_id: str) -> str | None:
    """The score's task id, or `None` if the broker failed after the account was stored.

    The account is stored whole and its score request with it, so the answer is still a
    success: the rescore beat queues the score once the broker is back (`job_id` null says so).
    """
    try:
        return dispatcher.score_async(account_id)
    except Unavailable as exc:
        log.warning("account %s stored; queueing its score failed (%s), the rescore beat will", account_id, exc)
        return None


def ingest_batch(store: GraphStore, drafts: Sequence[AccountDraft]) -> tuple[int, int]:
    """Store up to a batch of accounts, all or nothing, without scoring; (accounts, links)."""
    return store.upsert_accounts(dated(store, drafts))
