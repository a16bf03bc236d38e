"""The store contract for `CaseStore`: investigators' cases on rings, the ring list's case filters,
and cases following ring ids across sweeps (grew, merged, dissolved).

Every test runs on each backend (the `store` fixture) with identical assertions.
"""

from __future__ import annotations

import pytest

from ringfence.core.errors import NotFound
from ringfence.graph.cases import SWEEP_KEY
from ringfence.graph.model import LabelIn
from ringfence.graph.store import GraphStore
from tests.support.builders import acct, at, sweep_result

RISKS = {f"a{i}": 0.9 - i / 10 for i in range(9)}


def _two_rings(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(9)])
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["a0", "a1", "a2"], "r2": ["a3", "a4"], "r3": ["a5", "a6"]},
                                     RISKS))


def test_put_case_opens_and_moves_a_case_with_its_history(store: GraphStore) -> None:
    _two_rings(store)
    assert store.get_case("r1") is None
    opened = store.put_case("r1", "open", "alice", "looks odd", "key-1")
    assert (opened.ring_id, opened.status, opened.assignee) == ("r1", "open", "alice")
    moved = store.put_case("r1", "in_review", None, None, "key-2", keep_assignee=True)
    assert (moved.status, moved.assignee) == ("in_review", "alice")
    assert [(e.status, e.assignee, e.note, e.key_id) for e in moved.history] == [
        ("open", "alice", "looks odd", "key-1"), ("in_review", "alice", None, "key-2")]
    assert moved.updated_at == moved.history[-1].at >= moved.history[0].at
    unassigned = store.put_case("r1", "in_review", None, "back to the pool", "key-2")
    assert unassigned.assignee is None and store.get_case("r1") == unassigned


def test_put_case_needs_a_current_ring(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        store.put_case("r1", "open", None, None, "key-0")  # no sweep yet
    _two_rings(store)
    with pytest.raises(NotFound):
        store.put_case("nope", "open", None, None, "key-0")
    assert store.get_case("nope") is None


def test_confirmed_fraud_labels_every_current_member_in_the_same_transaction(store: GraphStore) -> None:
    _two_rings(store)
    store.add_labels([LabelIn("a1", "legit", "cb", None, at(1))])
    case = store.put_case("r1", "confirmed_fraud", "bob", "chargebacks", "key-3", label_members=True)
    assert case.status == "confirmed_fraud"
    for a in ("a0", "a1", "a2"):
        account = store.get_account(a)
        assert account is not None and account.label == "fraud"
        assert store.label_history(a)[-1].source == "case:r1" and store.label_history(a)[-1].note == "chargebacks"
    assert store.get_account("a3").label is None  # type: ignore[union-attr]
    # without label_members, or with another status, nobody is labelled
    store.put_case("r2", "confirmed_fraud", None, None, "key-3")
    store.put_case("r3", "dismissed", None, None, "key-3", label_members=True)
    assert all(store.label_history(a) == [] for a in ("a3", "a4", "a5", "a6"))


def test_a_failed_put_case_writes_nothing(store: GraphStore) -> None:
    _two_rings(store)
    with pytest.raises(NotFound):
        store.put_case("gone", "confirmed_fraud", None, None, "key-3", label_members=True)
    assert store.get_case("gone") is None and all(store.label_history(f"a{i}") == [] for i in range(9))


def test_ring_list_and_detail_show_the_case_and_filter_by_it(store: GraphStore) -> None:
    _two_rings(store)
    store.put_case("r1", "in_review", "alice", None, "key-1")
    store.put_case("r3", "open", "bob", None, "key-1")
    rows = store.list_rings(None, None, 10).data
    assert [(r.id, r.case_status, r.assignee) for r in rows] == [
        ("r1", "in_review", "alice"), ("r2", None, None), ("r3", "open", "bob")]
    assert [r.id for r in store.list_rings(None, None, 10, case_status="none").data] == ["r2"]
    assert [r.id for r in store.list_rings(None, None, 10, case_status="open").data] == ["r3"]
    assert [r.id for r in store.list_rings(None, None, 10, assignee="alice").data] == ["r1"]
    assert store.list_rings(None, None, 10, case_status="open", assignee="alice").data == []
    summary = store.ring_summary("r1")
    assert summary is not None and (summary.case_status, summary.assignee) == ("in_review", "alice")
    ring = store.get_ring("r1")
    assert ring is not None and ring.summary == summary and ring.case == store.get_case("r1")
    assert store.get_ring("r2").case is None  # type: ignore[union-attr]


def test_filtered_keyset_pages_return_every_match_once(store: GraphStore) -> None:
    ids = [f"b{i:02d}" for i in range(24)]
    store.upsert_accounts([acct(a, 1) for a in ids])
    risks = dict.fromkeys(ids[:12], 0.5) | {a: 0.9 - i / 100 for i, a in enumerate(ids[12:])}  # ties and distinct
    rings = {f"r{i:02d}": [ids[2 * i], ids[2 * i + 1]] for i in range(12)}
    store.publish_sweep(sweep_result("s1", 10, rings, risks))
    for i in range(0, 12, 3):
        store.put_case(f"r{i:02d}", "open", "carol", None, "key-1")
    for case_status, assignee, expected in [
        ("none", None, 8), ("open", None, 4), (None, "carol", 4), ("open", "carol", 4), (None, None, 12)
    ]:
        seen, cursor = [], None
        while True:
            page = store.list_rings(None, cursor, 3, case_status=case_status, assignee=assignee)  # type: ignore[arg-type]
            seen += [r.id for r in page.data]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == expected, (case_status, assignee, seen)
        assert seen == [r.id for r in store.list_rings(None, None, 100, case_status=case_status,  # type: ignore[arg-type]
                                                        assignee=assignee).data]


def test_a_grown_ring_keeps_its_case(store: GraphStore) -> None:
    _two_rings(store)
    store.put_case("r1", "in_review", "alice", None, "key-1")
    store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1", "a2", "a7"], "r2": ["a3", "a4"]}, RISKS,
                                     events={"r1": "grew", "r2": "unchanged"}, dissolved=[("r3", 2)]))
    ring = store.get_ring("r1")
    assert ring is not None and ring.case is not None and ring.case.status == "in_review"
    assert (ring.summary.case_status, ring.summary.assignee) == ("in_review", "alice")
    # a grown ring's case labels its current members, the newcomer too
    store.put_case("r1", "confirmed_fraud", None, None, "key-1", label_members=True, keep_assignee=True)
    assert store.get_account("a7").label == "fraud"  # type: ignore[union-attr]


def test_a_dissolved_rings_case_stays_readable_by_id(store: GraphStore) -> None:
    _two_rings(store)
    store.put_case("r3", "open", "bob", "watch", "key-1")
    store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1", "a2"], "r2": ["a3", "a4"]}, RISKS,
                                     dissolved=[("r3", 2)]))
    assert store.get_ring("r3") is None
    case = store.get_case("r3")
    assert case is not None and (case.status, case.assignee, case.history[0].note) == ("open", "bob", "watch")
    with pytest.raises(NotFound):
        store.put_case("r3", "dismissed", None, None, "key-1")  # moving it needs a current ring


def test_on_a_merge_the_survivor_keeps_its_case_and_records_the_merge(store: GraphStore) -> None:
    _two_rings(store)
    store.put_case("r1", "in_review", "alice", None, "key-1")
    store.put_case("r2", "open", "bob", None, "key-2")
    store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1", "a2", "a3", "a4"], "r3": ["a5", "a6"]}, RISKS,
                                     merged={"r1": ["r2"]}, events={"r3": "unchanged"}, dissolved=[("r2", 2)]))
    survivor = store.get_case("r1")
    assert survivor is not None and (survivor.status, survivor.assignee) == ("in_review", "alice")
    last = survivor.history[-1]
    assert (last.key_id, last.at, last.status) == (SWEEP_KEY, at(20), "in_review")
    assert last.note is not None and "s2" in last.note and "r2 (case open, assignee bob)" in last.note
    gone = store.get_case("r2")
    assert gone is not None and gone.history[-1].note == "sweep s2: merged into r1" and gone.status == "open"
    assert store.get_case("r3") is None  # untouched: neither merged nor opened
    assert [h.event for h in store.get_ring("r1").history] == ["created", "merged"]  # type: ignore[union-attr]


def test_a_merge_into_a_ring_without_a_case_opens_one(store: GraphStore) -> None:
    _two_rings(store)
    store.put_case("r2", "in_review", "bob", None, "key-2")
    store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1", "a2", "a3", "a4"]}, RISKS,
                                     merged={"r1": ["r2", "r3"]}, dissolved=[("r2", 2), ("r3", 2)]))
    case = store.get_case("r1")
    assert case is not None and (case.status, case.assignee) == ("open", "bob")
    assert case.history[-1].note == "sweep s2: merged in r2 (case in_review, assignee bob), r3 (no case)"
    assert store.list_rings(None, None, 10, case_status="none").data == []


def test_a_republished_sweep_does_not_change_cases_it_did_not_merge(store: GraphStore) -> None:
    _two_rings(store)
    store.put_case("r1", "open", None, None, "key-1")
    for _ in range(2):  # publishing without merges touches no case
        store.publish_sweep(sweep_result("s2", 20, {"r1": ["a0", "a1", "a2"]}, RISKS, events={"r1": "unchanged"}))
    assert len(store.get_case("r1").history) == 1  # type: ignore[union-attr]
