"""Ring detection on small hand-made graphs, a small synthetic world, and random graphs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.graph.detection import DetectionParams, detect, graph_from_links, identifier_weight, load_graph
from ringfence.graph.loader import load_records
from ringfence.graph.model import AccountIn, IdentifierKey, Link
from ringfence.graph.ring_risk import ring_risk
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.graph.synthetic import WorldParams, generate
from tests.support.builders import T0, LinkSpec, account_in


def account(aid: str, hours: float, *links: LinkSpec) -> AccountIn:
    return account_in(aid, *links, at=T0 + timedelta(hours=hours))


def ring(prefix: str, n: int, hours: float = 0.0) -> list[AccountIn]:
    """n accounts created within hours of each other, sharing 3 devices, 2 cards and a bank account."""
    return [
        account(f"{prefix}{k:02d}", hours + k * 0.5, ("device", f"{prefix}-dev{k % 3}"),
                ("card", f"{prefix}-card{k % 2}"), ("bank_account", f"{prefix}-bank"), ("card", f"{prefix}-own{k}"))
        for k in range(n)
    ]


def groups_of(store: SQLiteStore, **kw: object) -> list[list[str]]:
    return [g.member_ids for g in detect(load_graph(store), DetectionParams(**kw)).groups]  # type: ignore[arg-type]


def test_rings_found_with_tying_identifiers_and_features(sqlite_store: SQLiteStore) -> None:
    sqlite_store.upsert_accounts(ring("a", 6) + ring("b", 4, hours=500))
    det = detect(load_graph(sqlite_store), DetectionParams())
    assert [g.member_ids for g in det.groups] == [[f"a{k:02d}" for k in range(6)], [f"b{k:02d}" for k in range(4)]]
    a = det.groups[0]
    assert {(i.type, i.id, i.accounts) for i in a.identifiers} == {
        ("device", "a-dev0", 2), ("device", "a-dev1", 2), ("device", "a-dev2", 2), ("card", "a-card0", 3),
        ("card", "a-card1", 3),
        ("bank_account", "a-bank", 6),
    }
    assert a.identifiers[0].id == "a-bank"  # most shared first
    # Members differing in both device and card share only the bank account (w(6) = 0.51 < 0.6).
    assert 0.5 < a.features["density"] < 1.0 and a.features["tie_types"] == 3
    assert a.features["burst"] == 1.0 and a.features["shared_per_member"] == 3.0


def test_hubs_do_not_glue_rings(sqlite_store: SQLiteStore) -> None:
    accounts = ring("a", 5) + ring("b", 5, hours=100)
    # An emulator default device id on every ring member and 300 legit accounts: above hub_cap.
    hub = [account(f"l{k:03d}", 1000 + k, ("device", "emulator"), ("card", f"lc{k}")) for k in range(300)]
    # A mid-sized virtual card (40 accounts) under the cap, shared by one member of each ring.
    mid = [account(f"m{k:03d}", 2000 + k, ("card", "virtual"), ("device", f"md{k}")) for k in range(38)]
    accounts = [
        AccountIn(a.id, a.created_at, {}, (*a.links, Link("device", "emulator"),
                                           *((Link("card", "virtual"),) if a.id in ("a00", "b00") else ())))
        for a in accounts
    ]
    sqlite_store.upsert_accounts(accounts + hub + mid)
    groups = groups_of(sqlite_store)
    assert groups == [[f"a{k:02d}" for k in range(5)], [f"b{k:02d}" for k in range(5)]]
    # Without hub handling everything is one component.
    plain = detect(load_graph(sqlite_store), DetectionParams(hub_handling=False)).groups
    assert len(plain) == 1 and plain[0].size == 10 + 300 + 38


def test_shared_hub_plus_private_identifier_still_links(sqlite_store: SQLiteStore) -> None:
    """Two accounts sharing a mid hub AND a second identifier bind tighter than via the hub alone."""
    mid = [account(f"m{k:03d}", k, ("card", "virtual")) for k in range(40)]
    pair = [account("x0", 0, ("card", "virtual"), ("device", "d-x"), ("bank_account", "bx")),
            account("x1", 1, ("card", "virtual"), ("bank_account", "bx")),
            account("x2", 2, ("device", "d-x"))]
    sqlite_store.upsert_accounts(mid + pair)
    assert groups_of(sqlite_store) == [["x0", "x1", "x2"]]
    w = identifier_weight(np.array([1, 2, 20, 200]))
    assert w[0] == 0 and w[1] > w[2] > w[3] > 0


def test_benign_allow_list_stops_linking(sqlite_store: SQLiteStore) -> None:
    office = [account(f"o{k}", k * 300, ("device", "office-pc"), ("card", f"c{k}")) for k in range(4)]
    sqlite_store.upsert_accounts(office)
    assert groups_of(sqlite_store) == [[f"o{k}" for k in range(4)]]
    sqlite_store.set_benign(IdentifierKey("device", "office-pc"), True)
    assert groups_of(sqlite_store) == []
    sqlite_store.set_benign(IdentifierKey("device", "office-pc"), False)
    assert len(groups_of(sqlite_store)) == 1


def test_min_ring_size_and_large_groups_split(sqlite_store: SQLiteStore) -> None:
    pairs = [account("p0", 0, ("device", "pd")), account("p1", 1, ("device", "pd"))]
    # Two dense blocks of 30 bridged by one card: max_group=40 splits them with Leiden.
    big = ring("a", 30) + ring("b", 30, hours=5)
    big[0] = AccountIn(big[0].id, big[0].created_at, {}, (*big[0].links, Link("card", "bridge")))
    big[30] = AccountIn(big[30].id, big[30].created_at, {}, (*big[30].links, Link("card", "bridge")))
    sqlite_store.upsert_accounts(pairs + big)
    assert [len(g) for g in groups_of(sqlite_store)] == [60]
    split = groups_of(sqlite_store, max_group=40)
    # Leiden never mixes the two blocks, and every part respects max_group.
    assert all(len({m[0] for m in g}) == 1 and len(g) <= 40 for g in split)
    assert sum(len(g) for g in split) == 60
    assert groups_of(sqlite_store, max_group=40) == split  # seeded: deterministic


def test_household_low_risk_ring_high_risk(sqlite_store: SQLiteStore) -> None:
    weeks = 24 * 7
    house = [account(f"h{k}", k * 3 * weeks, ("device", "family-ipad"), ("card", "family-card"), ("card", f"hc{k}"))
             for k in range(4)]
    # An agency: 15 accounts paid out to one bank account, 8 of them working from an office PC.
    agency = [account(f"g{k:02d}", k * 2 * weeks, ("bank_account", "payout"),
                      ("device", "office-pc" if k < 8 else f"gd{k}")) for k in range(15)]
    sqlite_store.upsert_accounts(house + agency + ring("r", 8, hours=9000))
    det = detect(load_graph(sqlite_store), DetectionParams())
    risks = {g.member_ids[0][0]: ring_risk(g.features, np.full(g.size, 0.1)) for g in det.groups}
    assert risks["h"] < 0.1 and risks["g"] < 0.1 and risks["r"] > 0.9
    # Labels move it: two fraud labels on the household's members still leave structure weighing in.
    labelled = dict(det.groups[1].features, fraud_labels=0.0, legit_labels=3.0)
    assert ring_risk(labelled, np.full(4, 0.1)) < risks["h"] + 1e-9


def test_small_synthetic_world(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db")
    store.migrate()
    records = list(generate(WorldParams(accounts=6_000, seed=5)))
    list(load_records(store, records))
    det = detect(load_graph(store), DetectionParams())
    truth = {r["id"]: r["truth"] for r in records}
    planted: dict[str, set[str]] = {}
    for r in records:
        if r["truth"]["kind"] == "ring":
            planted.setdefault(r["truth"]["group"], set()).add(r["id"])
    found = [set(g.member_ids) for g in det.groups]
    hit = sum(any(len(p & f) / len(p | f) >= 0.5 for f in found) for p in planted.values())
    assert hit / len(planted) >= 0.9
    assert max(g.size for g in det.groups) <= 2 * max(len(p) for p in planted.values())
    high = [g for g in det.groups if ring_risk(g.features, np.full(g.size, 0.2)) >= 0.5]
    mostly_fraud = [g for g in high if sum(truth[m]["fraud"] for m in g.member_ids) * 2 > g.size]
    assert len(mostly_fraud) >= 0.9 * len(high)
    store.close()


links_strategy = st.lists(
    st.tuples(st.integers(0, 25), st.sampled_from(["card", "device", "bank_account"]), st.integers(0, 12)),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(links_strategy, st.integers(2, 30))
def test_detection_properties(raw: list[tuple[int, str, int]], hub_cap: int) -> None:
    g = graph_from_links([(f"a{a:02d}", t, f"{t[0]}{i}") for a, t, i in raw])
    p = DetectionParams(hub_cap=hub_cap, max_group=10_000)
    groups = detect(g, p).groups
    assert [gr.member_ids for gr in detect(g, p).groups] == [gr.member_ids for gr in groups]
    seen: set[str] = set()
    degree = g.degree()
    for gr in groups:
        assert gr.size >= p.min_ring_size and gr.member_ids == sorted(gr.member_ids)
        assert not seen & set(gr.member_ids)
        seen |= set(gr.member_ids)
        assert all(2 <= i.accounts <= gr.size for i in gr.identifiers)
    # Accounts sharing an identifier weighing at least the threshold share a group (if one is reported).
    where = {m: k for k, gr in enumerate(groups) for m in gr.member_ids}
    for j in range(g.n_identifiers):
        if 2 <= degree[j] <= hub_cap and identifier_weight(degree[j : j + 1])[0] >= p.threshold:
            holders = {g.account_ids[a] for a in g.e_acc[g.e_id == j].tolist()}
            assert len({where.get(h, -1) for h in holders}) == 1 or not holders & set(where)
