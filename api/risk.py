"""Online scores as the API presents them: compute with the active scorer, store, render."""

from __future__ import annotations

from ringfence.api.schemas import AccountPublic, RiskPublic
from ringfence.gnn.score import current_scorer
from ringfence.graph.model import AccountIn, Score
from ringfence.graph.store import GraphStore

from ringfence.core.errors import NotFound
from ringfence.core.settings import Settings


def score_now(store: GraphStore, settings: Settings, account_id: str) -> Score:
    """Score one account from the graph as it is now and store the score."""
    scores = current_scorer(settings).score_accounts(store, [account_id])
    if not scores:
        raise NotFound(f"account {account_id} not found")
    store.write_scores(scores)
    return scores[0]


def upsert_and_score(store: GraphStore, settings: Settings, account: AccountIn) -> tuple[AccountPublic, RiskPublic]:
    """Store one account (with a score request), score it from the graph as the upsert left
    it and store the score; returns the account as stored and its risk.

    Two store calls (two transactions on Neo4j): the upsert reads back the subgraph to score,
    and the score's write reads back what the answer shows.
    """
    scorer = current_scorer(settings)
    sub, as_of = store.upsert_and_neighbourhood([account], hops=scorer.hops, hub_cap=settings.hub_cap)
    score = scorer.score_subgraph(sub, [account.id], as_of)[0]
    stored, ring = store.write_score_and_read(score)
    return AccountPublic.of(stored), RiskPublic.of(score, ring)


def present(store: GraphStore, score: Score) -> RiskPublic:
    return RiskPublic.of(score, None if score.ring_id is None else store.ring_summary(score.ring_id))
