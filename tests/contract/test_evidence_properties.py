"""Evidence first, on both backends: scores follow the evidence of shared labelled fraud.

One model is trained once (SQLite, a small world); every test loads the same world into the
store under test (SQLite and the real Neo4j) and lets hypothesis pick what to change:

- adding a link to an identifier shared with labelled fraud never lowers an account's risk;
- a reason for an identifier shared with labelled fraud never has a negative weight;
- adding one new account to a ring lowers no old member's risk by more than 0.02 at the next sweep.

A new account is a sign-up: its links are first seen now (its claimed creation date may be anything).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.core.settings import Settings
from ringfence.gnn.score import Scorer
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, train
from ringfence.graph.model import AccountIn, Link
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.graph.store import GraphStore

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
N, SEED = 900, 21
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


CONFIGS = {
    "shipped": TrainConfig(hidden=16, max_epochs=15, patience=15),  # MonotoneRingGNN, the sign-up view
    "ring_gnn": TrainConfig(hidden=16, max_epochs=15, patience=15, presence_monotone=False),  # the earlier default
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def trained(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("evidence")
    store = SQLiteStore(root / "g.db")
    store.migrate()
    records = load_world(store, N, seed=SEED)
    cfg = Settings(data_dir=root)
    train(store, cfg, seed=5, config=CONFIGS[request.param])
    store.close()
    yield cfg, records


def _world(store: GraphStore, trained: tuple[Settings, list[dict[str, Any]]]) -> tuple[Scorer, dict[str, Any]]:
    cfg, _ = trained
    records = load_world(store, N, seed=SEED)
    fraud = {r["id"] for r in records if r["label"] == "fraud"}
    by_key: dict[tuple[str, str], list[str]] = {}
    for r in records:
        for x in r["links"]:
            by_key.setdefault((x["type"], x["id"]), []).append(r["id"])
    evidence = sorted(k for k, v in by_key.items() if any(a in fraud for a in v) and len(v) < cfg.hub_cap)
    rings: dict[str, list[str]] = {}
    for r in records:
        if r["truth"]["kind"] == "ring":
            rings.setdefault(r["truth"]["group"], []).append(r["id"])
    ring_keys = {g: sorted({(x["type"], x["id"]) for r in records if r["id"] in set(m) for x in r["links"]
                            if len(by_key[(x["type"], x["id"])]) > 1}) for g, m in rings.items()}
    world = {"ids": [r["id"] for r in records], "evidence": evidence, "fraud": fraud, "by_key": by_key,
             "rings": {g: m for g, m in rings.items() if ring_keys[g]}, "ring_keys": ring_keys}
    return Scorer.load(cfg), world


def test_a_link_to_labelled_fraud_never_lowers_risk_and_its_reason_is_never_negative(
        store: GraphStore, trained: tuple[Settings, list[dict[str, Any]]]) -> None:
    scorer, world = _world(store, trained)
    checked = {"links": 0}

    @SETTINGS
    @given(st.data())
    def prop(data: st.DataObject) -> None:
        account = data.draw(st.sampled_from(world["ids"]))
        key = data.draw(st.sampled_from(world["evidence"]))
        if all(a == account for a in world["by_key"][key] if a in world["fraud"]):
            return  # its only labelled fraud is the account itself: no evidence for it
        (before,) = scorer.score_accounts(store, [account], as_of=AS_OF)
        (row,) = store.get_accounts([account])
        store.upsert_accounts([AccountIn(account, row.created_at, dict(row.attributes),
                                         (Link(key[0], key[1], AS_OF - timedelta(days=1)),))])
        (after,) = scorer.score_accounts(store, [account], as_of=AS_OF)
        assert after.risk >= before.risk - 1e-9, (account, key, before.risk, after.risk)
        for s in (before, after):
            for r in s.reasons:
                if r["flagged_accounts"] > 0:
                    assert r["weight"] >= 0.0, (account, r)
        checked["links"] += 1

    prop()
    assert checked["links"] > 0


# The guarantee is the shipped `MonotoneRingGNN`'s, by construction. The earlier `RingGNN` averages over
# an identifier's accounts and does not hold it (one added late member lowered an old ring member by
# up to 0.13 in bench/quality.py's worlds; issue #13, BENCHMARKS.md session 9), so it is not asked of it.
@pytest.mark.parametrize("trained", ["shipped"], indirect=True)
def test_one_new_account_lowers_no_old_ring_members_risk_by_more_than_002(
        store: GraphStore, trained: tuple[Settings, list[dict[str, Any]]]) -> None:
    scorer, world = _world(store, trained)
    sweep = {"now": scorer.score_all(store, as_of=AS_OF)}
    n = {"k": 0}

    @SETTINGS
    @given(st.data(), st.integers(-400, 60), st.integers(1, 3))
    def prop(data: st.DataObject, day: int, n_links: int) -> None:
        group = data.draw(st.sampled_from(sorted(world["rings"])))
        keys = world["ring_keys"][group]
        chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=n_links, unique=True))
        n["k"] += 1
        created = AS_OF - timedelta(days=120) + timedelta(days=day)
        store.upsert_accounts([AccountIn(f"zz-new-{n['k']:03d}", min(created, AS_OF), {},
                                         tuple(Link(t, i, AS_OF) for t, i in chosen))])
        after = scorer.score_all(store, as_of=AS_OF)
        drops = [sweep["now"][a] - after[a] for a in world["rings"][group]]
        assert max(drops) <= 0.02, (group, chosen, day, max(drops))
        sweep["now"] = after  # the next addition is compared with this sweep

    prop()
