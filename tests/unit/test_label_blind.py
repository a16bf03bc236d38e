"""Label-blind training views: aligned targets and split sides, and what they are for: a sign-up
that shares card, device and bank account with a ring nobody has labelled scores as a ring member,
not as a household."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ringfence.core.settings import Settings
from ringfence.gnn.graphdata import RawGraph
from ringfence.gnn.score import Scorer
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, label_blind, stack_views, train
from ringfence.graph.model import AccountIn, IdentifierKey, Link
from ringfence.graph.sqlite_store import SQLiteStore

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def _raw(n: int, labels: list[int]) -> RawGraph:
    return RawGraph(
        account_ids=[f"a{k}" for k in range(n)], x_acc=np.zeros((n, 1), dtype=np.float32),
        label=np.array(labels, dtype=np.int8), created=np.zeros(n), id_keys=[IdentifierKey("device", "d")],
        id_type=np.array([1]), id_degree=np.array([n]), e_acc=np.arange(n), e_id=np.zeros(n, dtype=np.int64),
        e_first=np.zeros(n),
    )


def test_views_stack_with_aligned_targets_and_the_same_split_side() -> None:
    snap = _raw(4, [1, -1, 0, 1])
    examples = np.array([0, 2, 3])
    signup = _raw(5, [-1, 1, -1, -1, 0])  # the examples' sign-up rows are 1, 4, 0 of this view
    views = [(snap, examples), (signup, np.array([1, 4, 0]))]
    views += [(label_blind(v), rows) for v, rows in views]
    y_examples = snap.label[examples].astype(float)
    in_val = np.array([False, True, False])
    raw, tr, va, y = stack_views(views, y_examples, in_val, AS_OF)
    assert len(raw.account_ids) == len(y) == 18
    assert tr.tolist() == [0, 3, 5, 4, 9, 12, 14, 13] and va.tolist() == [2, 8, 11, 17]
    # every example appears once per view, on its own side of the split, with its own target
    assert len(tr) == 2 * len(views) and len(va) == len(views)
    assert sorted(y[va].tolist()) == [0.0] * 4
    assert sorted(y[tr].tolist()) == [1.0] * 8
    assert (y >= 0).sum() == 12  # no other row carries a target
    # the blind copies hold no label; the originals keep theirs
    assert (raw.label[9:] == -1).all()
    assert raw.label[:9].tolist() == [1, -1, 0, 1, -1, 1, -1, -1, 0]
    assert snap.label.tolist() == [1, -1, 0, 1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("blind")
    store = SQLiteStore(tmp / "g.db")
    store.migrate()
    records = load_world(store, 6000, seed=5)  # a third of the rings carry no label
    settings = Settings(data_dir=tmp)
    train(store, settings, seed=3, config=TrainConfig(hidden=16, max_epochs=30, patience=8))
    yield store, Scorer.load(settings), records
    store.close()


def _joiner(records: list[dict], kinds: set[str], labelled: bool) -> tuple[list[Link], str]:
    """The three most shared identifiers of the largest group of `kinds` with (or without) a labelled member."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r["truth"]["kind"] in kinds and not r["truth"]["late"]:
            groups.setdefault(r["truth"]["group"], []).append(r)
    chosen = [g for g, rs in groups.items() if any(r.get("label") == "fraud" for r in rs) == labelled]
    group = max(chosen, key=lambda g: (len(groups[g]), g))
    shared = Counter((x["type"], x["id"]) for r in groups[group] for x in r["links"])
    keys = [k for k, c in shared.most_common() if c > 1][:3]
    return [Link(t, i, AS_OF) for t, i in keys], group


def test_a_joiner_of_an_unlabelled_ring_outranks_a_household_joiner(trained) -> None:  # type: ignore[no-untyped-def]
    store, scorer, records = trained
    ring_links, _ = _joiner(records, {"ring"}, labelled=False)
    home_links, _ = _joiner(records, {"household"}, labelled=False)
    assert {x.type for x in ring_links} >= {"device"}  # the ring's pooled identifiers
    created = AS_OF - timedelta(hours=1)
    # the same ordinary attributes for all three: only what they share differs
    attrs = next(r["attributes"] for r in records if r["truth"]["kind"] == "legit" and r.get("label") == "legit")
    store.upsert_accounts([AccountIn("zz-ring", created, attrs, tuple(ring_links)),
                           AccountIn("zz-home", created, attrs, tuple(home_links)),
                           AccountIn("zz-alone", created, attrs, (Link("device", "zz-new-device", AS_OF),))])
    ring, home, alone = scorer.score_accounts(store, ["zz-ring", "zz-home", "zz-alone"], as_of=AS_OF)
    assert all(r["flagged_accounts"] == 0 for r in ring.reasons)  # structure alone, no labelled fraud in reach
    assert ring.risk > home.risk and ring.risk > alone.risk
    # Trained without the label-blind views this model scored the ring's joiner 0.121 and the
    # household's 0.122: absent labels, it read pooled sharing as a family's.
    assert ring.risk > 0.5, ring
