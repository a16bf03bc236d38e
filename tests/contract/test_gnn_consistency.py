"""Online (subgraph) scores equal full-graph (sweep) scores, hub caps included.

`check_online_matches_batch` takes any store, so the Neo4j leg can reuse it by parametrising
the `store` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ringfence.core.settings import Settings
from ringfence.gnn.score import Scorer
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, train
from ringfence.graph.store import GraphStore

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
HUB_CAP = 6  # small, so that the synthetic hubs (and some agencies) are capped


# `store` is conftest's fixture: every test here runs on SQLite and on the real Neo4j.


def check_online_matches_batch(store: GraphStore, settings: Settings, sample: int = 60) -> None:
    """Score every account in batch, then a sample online (one by one and together): equal within 1e-4."""
    scorer = Scorer.load(settings)
    batch = scorer.score_all(store, as_of=AS_OF, chunk_size=500)
    assert len(batch) == store.count_accounts()
    ids = sorted(batch)
    # Riskiest accounts, accounts on capped hubs, and an even spread of the rest.
    top = sorted(ids, key=lambda a: -batch[a])[: sample // 3]
    spread = ids[:: max(1, len(ids) // sample)]
    chosen = list(dict.fromkeys(top + spread))
    capped_seen = False
    for account_id in chosen:
        (one,) = scorer.score_accounts(store, [account_id], as_of=AS_OF)
        assert abs(one.risk - batch[account_id]) <= 1e-4, (account_id, one.risk, batch[account_id])
        capped_seen |= any(r.get("capped") for r in one.reasons)
    together = scorer.score_accounts(store, chosen[:25], as_of=AS_OF)
    for s in together:
        assert abs(s.risk - batch[s.account_id]) <= 1e-4
    hub_users = _hub_users(store, settings.hub_cap)
    for s in scorer.score_accounts(store, hub_users, as_of=AS_OF):
        assert abs(s.risk - batch[s.account_id]) <= 1e-4
        assert any(r.get("capped") for r in s.reasons)
    assert capped_seen or hub_users


def _hub_users(store: GraphStore, hub_cap: int) -> list[str]:
    """A few accounts on capped identifiers: inside the cap and beyond it."""
    per_key: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for chunk in store.stream_links():
        for link in chunk:
            per_key.setdefault((link.type, link.id), []).append((link.first_seen, link.account_id))
    out: list[str] = []
    for members in per_key.values():
        if len(members) > hub_cap:
            members.sort()
            out += [members[0][1], members[hub_cap - 1][1], members[-1][1]]
        if len(out) >= 9:
            break
    return list(dict.fromkeys(out))


def test_online_matches_batch_heuristic(store: GraphStore, tmp_path: Path) -> None:
    load_world(store, 1200, seed=3)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP)
    assert Scorer.load(settings).version == "heuristic-1"
    check_online_matches_batch(store, settings, sample=30)


def test_online_matches_batch_trained(store: GraphStore, tmp_path: Path) -> None:
    load_world(store, 1500, seed=4)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP)
    train(store, settings, seed=5, config=TrainConfig(hidden=16, max_epochs=8, patience=8))
    check_online_matches_batch(store, settings)


def test_online_matches_batch_trained_hop2(store: GraphStore, tmp_path: Path) -> None:
    """A model reading its own 2-hop label counts: online scoring expands 2 hops and still agrees."""
    load_world(store, 1500, seed=4)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP)
    train(store, settings, seed=5, config=TrainConfig(hidden=16, max_epochs=8, patience=8, hop2=True))
    assert Scorer.load(settings).hops == 2
    check_online_matches_batch(store, settings, sample=30)


@pytest.mark.parametrize("kind", ["blend", "gnn_gbt"])
def test_online_matches_batch_trained_mean_of_two(kind: str, store: GraphStore, tmp_path: Path) -> None:
    """The shipped means of two probabilities (GNN + hybrid, GNN + 1-hop trees) score the same
    online and in batch."""
    load_world(store, 1500, seed=4)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP)
    report = train(store, settings, seed=5, config=TrainConfig(hidden=16, max_epochs=8, patience=8, ship=kind))
    assert report.shipped == kind and kind in report.metrics
    assert Scorer.load(settings).predictor.kind == kind  # type: ignore[union-attr]
    check_online_matches_batch(store, settings, sample=30)
