"""The store contract for `ResultStore`: publishing sweeps, and the rings, risks and lists
readers see.

Every test runs on each backend (the `store` fixture) with identical assertions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ringfence.graph import neo4j_store, sqlite_store
from ringfence.graph.model import LabelIn, SweepResult
from ringfence.graph.store import GraphStore
from ringfence.services.staged_lineage import SpilledRings
from tests.support.builders import acct, at, sweep_result


def test_publish_sweep_makes_rings_and_risks_current(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(6)])
    store.add_labels([LabelIn("a1", "fraud", "cb", None, at(1))])
    assert store.current_sweep() is None and store.list_rings(None, None, 10).data == []
    risks = {"a0": 0.9, "a1": 0.8, "a2": 0.7, "a3": 0.2, "a4": 0.1, "a5": 0.3}
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["a0", "a1", "a2"], "r2": ["a3", "a4", "a5"]}, risks))
    info = store.current_sweep()
    assert info is not None and info.sweep_id == "s1" and info.model_version == "m1"
    rings = store.list_rings(None, None, 10).data
    assert [(r.id, r.size, r.sweep_id) for r in rings] == [("r1", 3, "s1"), ("r2", 3, "s1")]
    assert [r.id for r in store.list_rings(0.5, None, 10).data] == ["r1"]
    ring = store.get_ring("r1")
    assert ring is not None
    assert [(m.account_id, m.risk, m.label) for m in ring.members] == [
        ("a0", 0.9, None),
        ("a1", 0.8, "fraud"),
        ("a2", 0.7, None),
    ]
    assert [(i.type, i.id, i.accounts) for i in ring.identifiers] == [("card", "k-r1", 3)]
    assert [(h.sweep_id, h.event, h.size) for h in ring.history] == [("s1", "created", 3)]
    assert store.get_ring("nope") is None
    assert store.current_rings() == {"r1": ["a0", "a1", "a2"], "r2": ["a3", "a4", "a5"]}
    assert store.rings_of(["a0", "a4", "zz"]) == {"a0": "r1", "a4": "r2"}
    a0 = store.get_account("a0")
    assert a0 is not None and a0.risk == 0.9 and a0.ring_id == "r1" and a0.risk_scored_at == at(10)


def test_ring_lineage_reads_members_and_creation_of_current_rings_only(store: GraphStore) -> None:
    assert store.ring_lineage(["r1"]) == {}  # no sweep yet
    risks = {f"a{i}": 0.1 * i for i in range(6)}
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["a2", "a0", "a1"], "r2": ["a3", "a4", "a5"]}, risks))
    store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1"], "r3": ["a3", "a4"]}, risks))
    got = store.ring_lineage(["r3", "r1", "r2", "r1", "nope"])  # r2 is not in the current sweep
    assert {r: (x.created_at, x.members) for r, x in got.items()} == {
        "r1": (at(0), ["a0", "a1"]), "r3": (at(0), ["a3", "a4"])}
    assert store.ring_lineage([]) == {}


def test_subgraphs_and_ring_summaries_read_the_current_sweep(store: GraphStore) -> None:
    # given: a ring r1 = {a0, a1}; a2 shares a card with a1 but is in no ring
    store.upsert_accounts([acct("a0", 0, (("card", "c01"),)), acct("a1", 1, (("card", "c01"), ("card", "c12"))),
                           acct("a2", 2, (("card", "c12"),))])
    assert store.neighbourhood(["a1"], hops=1, hub_cap=10).rings == {}  # no sweep yet
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["a0", "a1"]}, {"a0": 0.9, "a1": 0.8, "a2": 0.1}))
    # when / then: every subgraph carries the rings of its accounts, whatever its depth
    assert store.neighbourhood(["a2"], hops=1, hub_cap=10).rings == {"a1": "r1"}
    assert store.neighbourhood(["a2", "ghost"], hops=2, hub_cap=10).rings == {"a0": "r1", "a1": "r1"}
    assert store.neighbourhood(["ghost"], hops=1, hub_cap=10).rings == {}
    ring = store.get_ring("r1")
    assert ring is not None and store.ring_summary("r1") == ring.summary
    assert store.ring_summary("nope") is None


def test_ring_history_accumulates_across_sweeps(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(5)])
    risks = {f"a{i}": 0.5 for i in range(5)}
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["a0", "a1", "a2"]}, risks))
    store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1", "a2", "a3", "a4"]}, risks, {"r1": "grew"}))
    ring = store.get_ring("r1")
    assert ring is not None and ring.summary.size == 5 and ring.summary.updated_at == at(20)
    assert [(h.sweep_id, h.event, h.size) for h in ring.history] == [("s1", "created", 3), ("s2", "grew", 5)]


def test_a_publication_read_a_batch_at_a_time_from_spilled_rings(store: GraphStore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # given: batches of a few rows, and a sweep whose rings come from disk (a sharded finish's)
    monkeypatch.setattr(sqlite_store, "_RISK_CHUNK", 2)
    monkeypatch.setattr(neo4j_store, "_PUBLISH_CHUNK", 3)
    ids = [f"a{i:02d}" for i in range(20)]
    store.upsert_accounts([acct(a, i) for i, a in enumerate(ids)])
    rings = {f"r{k}": ids[3 * k:3 * k + 3] for k in range(6)}
    risks = dict.fromkeys(ids, 0.5)
    store.publish_sweep(sweep_result("s1", 10, rings, risks))
    events = {r: "unchanged" if int(r[1]) % 2 == 0 else "grew" for r in rings if r != "r5"}
    spilled = SpilledRings()
    spilled.add(list(sweep_result("s2", 20, {r: ms for r, ms in rings.items() if r != "r5"}, risks, events).rings))
    # when
    store.publish_sweep(SweepResult("s2", at(19), at(20), "m1", risks, spilled, [("r5", 3)]))
    # then: every account in its ring, an unchanged ring keeps when it last changed, all history written
    assert {a.id: a.ring_id for a in store.get_accounts(ids)} == {
        a: (r if r != "r5" else None) for r, ms in rings.items() for a in ms} | dict.fromkeys(ids[18:])
    for r in rings:
        ring = store.get_ring(r)
        if r == "r5":
            assert ring is None
            continue
        assert ring is not None and ring.summary.updated_at == (at(10) if events[r] == "unchanged" else at(20))
        assert [(h.sweep_id, h.event) for h in ring.history] == [("s1", "created"), ("s2", events[r])]
    assert store.current_rings() == {r: ms for r, ms in rings.items() if r != "r5"}


def test_pagination_walks_every_item_once_while_a_sweep_is_published(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i:03d}", i) for i in range(57)])
    risks = {f"a{i:03d}": round((i * 37 % 11) / 10, 2) for i in range(57)}
    rings = {f"r{i:02d}": [f"a{3 * i:03d}", f"a{3 * i + 1:03d}", f"a{3 * i + 2:03d}"] for i in range(19)}
    store.publish_sweep(sweep_result("s1", 10, rings, risks))
    for order in ("risk_desc", "id"):
        seen, cursor, flipped = [], None, False
        while True:
            page = store.list_accounts(order, None, None, cursor, 10)  # type: ignore[arg-type]
            seen += [a.id for a in page.data]
            if not flipped:  # a new sweep lands mid-walk: the walk stays on the sweep it began with
                store.publish_sweep(sweep_result("s2", 20, rings, {k: 1 - v for k, v in risks.items()}))
                flipped = True
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(risks) and len(seen) == len(set(seen))
        store.publish_sweep(sweep_result("s1", 30, rings, risks))
    ids, cursor = [], None
    while True:
        ring_page = store.list_rings(None, cursor, 4)
        ids += [r.id for r in ring_page.data]
        cursor = ring_page.next_cursor
        if cursor is None:
            break
    assert sorted(ids) == sorted(rings) and len(ids) == 19
    risky = store.list_accounts("risk_desc", 0.5, None, None, 1000).data
    assert risky and all(a.risk is not None and a.risk >= 0.5 for a in risky)
    assert [a.risk for a in risky] == sorted((a.risk for a in risky), reverse=True)


def _walk(read: Callable[[str | None, int], Any], size: int) -> list[Any]:
    """Every item of a keyset list, `size` a page (a cursor that does not move fails, not hangs)."""
    out, cursor = [], None
    for _ in range(1000):
        page = read(cursor, size)
        assert len(page.data) <= size
        out += page.data
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor
    raise AssertionError(f"no last page after 1000 pages: {[getattr(x, 'id', x) for x in out[-5:]]}")


def test_keyset_pages_follow_the_order_through_long_ties_and_accounts_without_a_risk(store: GraphStore) -> None:
    # Long runs of one risk (a heuristic sweep gives thousands of rings one risk), risks of -1
    # and below it (they sort with and after the accounts no sweep scored), labels, and pages
    # that start inside a tie: each walk must give the one order, every item once.
    ids = [f"a{i:03d}" for i in range(90)]
    store.upsert_accounts([acct(a, i) for i, a in enumerate(ids)])
    store.add_labels([LabelIn(a, "fraud", "cb", None, at(1)) for a in ids[::4]])
    odd = {ids[80]: -1.0, ids[81]: -1.0, ids[82]: -2.5, ids[83]: -2.5, ids[84]: -7.0}
    risks = {a: (0.5 if i % 3 else 0.25) if i < 60 else 0.75 for i, a in enumerate(ids[:80])} | odd
    del risks[ids[7]], risks[ids[41]]  # no risk in this sweep: key -1, by id among the -1 risks
    store.upsert_accounts([acct(f"z{i}", 100 + i) for i in range(3)])  # after the sweep: key -1 too
    risked = [a for a in ids[:80] if a in risks]
    rings = {f"r{i:02d}": risked[2 * i:2 * i + 2] for i in range(39)}
    ring_risk = {r: (0.5 if int(r[1:]) % 5 else 0.9) for r in rings}
    result = sweep_result("s1", 10, rings, risks)
    for ring in result.rings:  # type: ignore[attr-defined]
        ring.risk = ring_risk[ring.id]
    store.publish_sweep(result)
    for r in list(rings)[::6]:
        store.put_case(r, "open", "carol", None, "key-1")
    every = [*ids, "z0", "z1", "z2"]

    def key(a: str) -> tuple[float, str]:
        return (-risks.get(a, -1.0), a)

    labels = set(ids[::4])
    for min_risk, label in [(None, None), (None, "fraud"), (0.5, None), (-0.5, None), (-1.5, None), (-3.0, None),
                            (-1.0, "fraud")]:
        expected = sorted((a for a in every if (min_risk is None or (a in risks and risks[a] >= min_risk))
                           and (label is None or a in labels)), key=key)
        for size in (1, 4, 25):
            walked = _walk(lambda c, n, m=min_risk, lab=label: store.list_accounts("risk_desc", m, lab, c, n), size)
            assert [a.id for a in walked] == expected, (min_risk, label, size)
    for case_status, assignee in ((None, None), ("open", None), ("none", None), (None, "carol")):
        expected_rings = sorted(
            (r for r in rings if case_status is None and assignee is None
             or (r in list(rings)[::6]) == (case_status != "none")),
            key=lambda r: (-ring_risk[r], r),
        )
        for size in (1, 3, 50):
            walked = _walk(lambda c, n, s=case_status, who=assignee: store.list_rings(  # type: ignore[misc]
                None, c, n, case_status=s, assignee=who), size)
            assert [r.id for r in walked] == expected_rings, (case_status, assignee, size)
    high = [r.id for r in _walk(lambda c, n: store.list_rings(0.6, c, n), 2)]
    assert high == [r for r in rings if ring_risk[r] == 0.9]


def test_list_accounts_filters_by_label(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(4)])
    store.add_labels([LabelIn("a2", "fraud", "cb", None, at(1)), LabelIn("a3", "legit", "kyc", None, at(1))])
    assert [a.id for a in store.list_accounts("id", None, "fraud", None, 10).data] == ["a2"]
    assert [a.id for a in store.list_accounts("id", None, None, None, 10).data] == ["a0", "a1", "a2", "a3"]
