"""Online scores as the API presents them: compute with the active scorer, store, render."""

from __future__ import annotations

from api.schemas import RiskPublic
from gnn.score import current_scorer
from graph.errors import NotFound
from graph.model import Score
from graph.store import GraphStore
from ringfence.settings import Settings


def score_now(store: GraphStore, settings: Settings, account_id: str) -> Score:
    """Score one account from the graph as it is now and store the score."""
    scores = current_scorer(settings).score_accounts(store, [account_id])
    if not scores:
        raise NotFound(f"account {account_id} not found")
    store.write_scores(scores)
    return scores[0]


def present(store: GraphStore, score: Score) -> RiskPublic:
    ring = None
    if score.ring_id is not None:
        current = store.get_ring(score.ring_id)
        ring = current.summary if current is not None else None
    return RiskPublic.of(score, ring)
