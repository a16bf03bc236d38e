"""One contract for every GraphStore backend: the same assertions run on SQLite and Neo4j."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from ringfence.core.errors import NotFound
from ringfence.graph.model import (
    ID_TYPES,
    AccountIn,
    IdentifierKey,
    LabelIn,
    Link,
    PublishedRing,
    RingIdentifier,
    Score,
    SweepResult,
)
from ringfence.graph.store import GraphStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def acct(i: str, minute: float = 0, links: tuple[tuple[str, str], ...] = (), **attrs: object) -> AccountIn:
    return AccountIn(i, at(minute), dict(attrs), tuple(Link(t, x, at(minute)) for t, x in links))  # type: ignore[arg-type]


def snapshot(
    store: GraphStore, chunk: int = 7, labelled_only: bool = False
) -> tuple[list[tuple], list[tuple], dict[str, list[tuple]]]:
    """The whole observable state; small chunks by default so that paging is exercised."""
    accounts = [(a.id, a.created_at, a.attributes, a.label) for c in store.stream_accounts(chunk) for a in c]
    links = [(x.account_id, x.type, x.id, x.first_seen) for c in store.stream_links(chunk) for x in c]
    labels = {
        a[0]: [(e.label, e.source, e.at) for e in store.label_history(a[0])]
        for a in accounts
        if not labelled_only or a[3] is not None
    }
    return accounts, links, labels


def test_the_fixture_is_a_graph_store(store: GraphStore) -> None:
    assert isinstance(store, GraphStore)
    store.ping()
    assert store.count_accounts() == 0


def test_upsert_then_get_returns_what_was_stored(store: GraphStore) -> None:
    # given
    store.upsert_accounts([acct("a1", 5, (("card", "c1"), ("device", "d1")), country="DE", age=3.5, vip=True)])
    # when
    got = store.get_account("a1")
    # then
    assert got is not None
    assert got.created_at == at(5)
    assert got.attributes == {"country": "DE", "age": 3.5, "vip": True}
    assert [(x.type, x.id, x.first_seen, x.last_seen) for x in got.links] == [
        ("card", "c1", at(5), at(5)),
        ("device", "d1", at(5), at(5)),
    ]
    assert got.label is None and got.risk is None and got.ring_id is None
    assert store.get_account("nope") is None


def test_get_accounts_reads_many_in_input_order_as_get_account_does(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{k}", k, (("card", f"c{k}"),), n=k) for k in range(4)])
    store.write_scores([Score("a2", 0.7, "m1", at(9), at(9), [], None)])
    got = store.get_accounts(["a3", "nope", "a2", "a3", "a0"])
    assert [a.id for a in got] == ["a3", "a2", "a0"]
    assert got == [store.get_account(i) for i in ("a3", "a2", "a0")]
    assert got[1].risk == 0.7 and got[0].risk is None
    assert store.get_accounts([]) == []


def test_upsert_merges_attributes_links_and_keeps_earliest_creation(store: GraphStore) -> None:
    store.upsert_accounts([acct("a1", 10, (("card", "c1"),), country="DE", tier=1)])
    store.upsert_accounts(
        [AccountIn("a1", at(3), {"tier": 2, "new": "x"}, (Link("card", "c1", at(30)), Link("device", "d9", None)))]
    )
    got = store.get_account("a1")
    assert got is not None
    assert got.created_at == at(3)
    assert got.attributes == {"country": "DE", "tier": 2, "new": "x"}
    links = {(x.type, x.id): (x.first_seen, x.last_seen) for x in got.links}
    assert links[("card", "c1")] == (at(10), at(30))
    # A link without seen_at is dated by its account's created_at in the same batch.
    assert links[("device", "d9")] == (at(3), at(3))


def test_the_same_batch_twice_changes_nothing(store: GraphStore) -> None:
    batch = [acct(f"a{i}", i, (("card", f"c{i % 3}"), ("device", "d0")), n=i) for i in range(20)]
    assert store.upsert_accounts(batch) == (20, 40)
    first = snapshot(store)
    assert store.upsert_accounts(batch) == (20, 40)
    assert snapshot(store) == first
    assert store.count_accounts() == 20


def test_missing_accounts_keeps_input_order(store: GraphStore) -> None:
    store.upsert_accounts([acct("a1"), acct("a3")])
    assert store.missing_accounts(["a4", "a1", "a2", "a3"]) == ["a4", "a2"]


def test_streams_return_everything_once_in_order(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i:02d}", i, (("card", f"c{i}"), ("device", f"d{i % 4}"))) for i in range(23)])
    accounts = [a.id for chunk in store.stream_accounts(5) for a in chunk]
    links = [(x.account_id, x.type, x.id) for chunk in store.stream_links(4) for x in chunk]
    assert accounts == sorted(accounts) and len(accounts) == 23
    assert links == sorted(links) and len(links) == 46
    assert all(len(chunk) <= 4 for chunk in store.stream_links(4))


def test_whole_graph_arrays_match_the_streams(store: GraphStore) -> None:
    """`graph.arrays.load_arrays` (each backend's bulk path) reads what the streams return."""
    from ringfence.graph.arrays import load_arrays

    store.upsert_accounts([acct(f"a{i:02d}", i, (("card", f"c{i % 5}"), ("device", f"d{i % 3}")), n=i, tag=f"t{i % 2}")
                           for i in range(17)] + [acct("lonely", 3)])
    store.set_benign(IdentifierKey("device", "d1"), True)
    store.add_labels([LabelIn("a03", "fraud", "test", None, at(1))])
    g = load_arrays(store, attributes=True, chunk_size=4)
    rows = [a for chunk in store.stream_accounts(5) for a in chunk]
    assert g.account_ids == [a.id for a in rows]
    assert g.attributes == [a.attributes for a in rows]
    assert g.created.tolist() == [a.created_at.timestamp() for a in rows]
    assert g.label.tolist() == [1 if a.id == "a03" else -1 for a in rows]
    got = sorted((g.account_ids[a], g.key(j).type, g.key(j).id, f)
                 for a, j, f in zip(g.e_acc.tolist(), g.e_id.tolist(), g.e_first.tolist(), strict=True))
    assert got == [(x.account_id, x.type, x.id, x.first_seen.timestamp()) for c in store.stream_links(5) for x in c]
    assert [g.key(j) for j in range(g.n_identifiers)] == sorted(
        {g.key(j) for j in range(g.n_identifiers)}, key=lambda k: (ID_TYPES.index(k.type), k.id))
    assert [g.key(j) for j in g.benign.nonzero()[0].tolist()] == [IdentifierKey("device", "d1")]


def test_identifier_degrees(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i, (("device", "shared"), ("card", f"c{i}"))) for i in range(6)])
    degrees = store.identifier_degrees(
        [IdentifierKey("device", "shared"), IdentifierKey("card", "c1"), IdentifierKey("card", "ghost")]
    )
    assert degrees == {IdentifierKey("device", "shared"): 6, IdentifierKey("card", "c1"): 1}


def test_neighbourhood_follows_hops_and_caps_hubs(store: GraphStore) -> None:
    # given: a chain a0 -c01- a1 -c12- a2, and a hub device shared by a0 and 10 others
    store.upsert_accounts(
        [
            acct("a0", 0, (("card", "c01"), ("device", "hub"))),
            acct("a1", 1, (("card", "c01"), ("card", "c12"))),
            acct("a2", 2, (("card", "c12"),)),
        ]
        + [acct(f"h{i:02d}", 10 + i, (("device", "hub"),)) for i in range(10)]
    )
    # when
    one = store.neighbourhood(["a0"], hops=1, hub_cap=3)
    two = store.neighbourhood(["a0", "ghost"], hops=2, hub_cap=100)
    # then: the hub keeps its full degree but only its 3 earliest-linked accounts are expanded
    assert one.seeds == ["a0"]
    assert one.identifiers[IdentifierKey("device", "hub")] == 11
    assert one.capped == [IdentifierKey("device", "hub")]
    assert set(one.accounts) == {"a0", "a1", "h00", "h01"}
    assert "a2" not in one.accounts
    assert ("a1", IdentifierKey("card", "c01")) in {(a, k) for a, k, _ in one.edges}
    assert two.seeds == ["a0"]
    assert {"a2", "h09"} <= set(two.accounts)
    assert two.capped == []
    assert two.accounts["a2"].created_at == at(2)


def test_labels_keep_history_and_reject_unknown_accounts(store: GraphStore) -> None:
    store.upsert_accounts([acct("a1"), acct("a2")])
    assert (
        store.add_labels(
            [LabelIn("a1", "legit", "kyc", None, at(1)), LabelIn("a1", "fraud", "chargeback", "cb", at(2))]
        )
        == 2
    )
    with pytest.raises(NotFound):
        store.add_labels([LabelIn("a2", "fraud", "inv", None, at(3)), LabelIn("ghost", "fraud", "inv", None, at(3))])
    # an older event arriving late does not overwrite the current label
    store.add_labels([LabelIn("a1", "legit", "late", None, at(0))])
    store.add_labels([LabelIn("a1", "fraud", "chargeback", "cb", at(2))])  # a retry adds nothing
    history = store.label_history("a1")
    assert [(e.label, e.source, e.at) for e in history] == [
        ("legit", "late", at(0)),
        ("legit", "kyc", at(1)),
        ("fraud", "chargeback", at(2)),
    ]
    assert history[-1].note == "cb"
    a1, a2 = store.get_account("a1"), store.get_account("a2")
    assert a1 is not None and a1.label == "fraud"
    assert a2 is not None and a2.label is None and store.label_history("a2") == []


def test_scores_never_go_back_in_time(store: GraphStore) -> None:
    store.upsert_accounts([acct("a1")])
    newer = Score("a1", 0.9, "m2", at(10), at(10), [{"weight": 1.0}], None)
    older = Score("a1", 0.1, "m1", at(11), at(5), [], None)
    assert store.write_scores([newer]) == 1
    assert store.write_scores([older]) == 0
    got = store.get_score("a1")
    assert got is not None and got.risk == 0.9 and got.model_version == "m2" and got.reasons == [{"weight": 1.0}]
    account = store.get_account("a1")
    assert account is not None and account.risk == 0.9 and account.model_version == "m2"
    assert store.get_score("ghost") is None


def test_a_batch_of_scores_applies_in_order_against_the_stored_as_of(store: GraphStore) -> None:
    # given: one account scored several times in one batch, out of as_of order, with a tie
    store.upsert_accounts([acct("a1"), acct("a2")])
    batch = [
        Score("a1", 0.1, "m1", at(1), at(10), [], None),
        Score("a1", 0.2, "m1", at(2), at(5), [], None),  # older than the one before it: skipped
        Score("a2", 0.3, "m1", at(3), at(7), [], "r1"),
        Score("a1", 0.4, "m1", at(4), at(12), [], None),
        Score("a1", 0.5, "m2", at(5), at(12), [{"weight": 0.5}], "r2"),  # a tie: the later one wins
    ]
    # when / then
    assert store.write_scores(batch) == 4
    a1, a2 = store.get_score("a1"), store.get_score("a2")
    assert a1 is not None and (a1.risk, a1.model_version, a1.as_of, a1.reasons, a1.ring_id) == (
        0.5, "m2", at(12), [{"weight": 0.5}], "r2")
    assert a2 is not None and (a2.risk, a2.as_of, a2.ring_id) == (0.3, at(7), "r1")
    assert store.write_scores([Score("a1", 0.9, "m3", at(6), at(11), [], None)]) == 0
    assert store.get_score("a1") == a1


def test_requested_scores_stay_pending_until_a_score_as_of_the_request_is_written(store: GraphStore) -> None:
    # given accounts stored without and with a score request
    store.upsert_accounts([acct("quiet")])
    store.upsert_accounts([acct("b2"), acct("b1"), acct("b1")], request_scores=True)
    time.sleep(0.01)
    store.upsert_accounts([acct("c1")], request_scores=True)
    later = datetime.now(UTC) + timedelta(seconds=5)
    # then only the requests are pending, oldest first (ties by id), bounded by time and count
    assert store.pending_scores(later, 10) == ["b1", "b2", "c1"]
    assert store.pending_scores(later, 2) == ["b1", "b2"]
    assert store.pending_scores(datetime.now(UTC) - timedelta(minutes=1), 10) == []

    # when a score computed before the request is written (a stale one), nothing settles
    stale = datetime.now(UTC) - timedelta(minutes=1)
    store.write_scores([Score("b1", 0.5, "m1", stale, stale, [], None)])
    assert store.pending_scores(later, 10) == ["b1", "b2", "c1"]
    # when scores as of now are written (even one the as_of guard does not store), they settle
    now = datetime.now(UTC)
    store.write_scores([Score("b1", 0.6, "m1", now, now, [], None), Score("c1", 0.2, "m1", now, now, [], None)])
    store.write_scores([Score("c1", 0.1, "m1", now, now - timedelta(microseconds=1), [], None)])
    assert store.pending_scores(later, 10) == ["b2"]

    # and a new request for a scored account is pending again; an upsert without one is not
    store.upsert_accounts([acct("b1")], request_scores=True)
    store.upsert_accounts([acct("quiet"), acct("c1")])
    assert store.pending_scores(datetime.now(UTC) + timedelta(seconds=5), 10) == ["b2", "b1"]
    # and the account itself is unchanged by the bookkeeping
    assert store.get_account("b1") is not None and store.get_score("b1").risk == 0.6  # type: ignore[union-attr]


def _sweep(
    sid: str, minute: float, rings: dict[str, list[str]], risks: dict[str, float], events: dict[str, str] | None = None
) -> SweepResult:
    published = [
        PublishedRing(
            rid,
            max(risks[m] for m in members),
            members,
            [RingIdentifier("card", f"k-{rid}", len(members))],
            at(0),
            (events or {}).get(rid, "created"),
        )  # type: ignore[arg-type]
        for rid, members in rings.items()
    ]
    return SweepResult(sid, at(minute - 1), at(minute), "m1", risks, published)


def test_publish_sweep_makes_rings_and_risks_current(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(6)])
    store.add_labels([LabelIn("a1", "fraud", "cb", None, at(1))])
    assert store.current_sweep() is None and store.list_rings(None, None, 10).data == []
    risks = {"a0": 0.9, "a1": 0.8, "a2": 0.7, "a3": 0.2, "a4": 0.1, "a5": 0.3}
    store.publish_sweep(_sweep("s1", 10, {"r1": ["a0", "a1", "a2"], "r2": ["a3", "a4", "a5"]}, risks))
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


def test_subgraphs_and_ring_summaries_read_the_current_sweep(store: GraphStore) -> None:
    # given: a ring r1 = {a0, a1}; a2 shares a card with a1 but is in no ring
    store.upsert_accounts([acct("a0", 0, (("card", "c01"),)), acct("a1", 1, (("card", "c01"), ("card", "c12"))),
                           acct("a2", 2, (("card", "c12"),))])
    assert store.neighbourhood(["a1"], hops=1, hub_cap=10).rings == {}  # no sweep yet
    store.publish_sweep(_sweep("s1", 10, {"r1": ["a0", "a1"]}, {"a0": 0.9, "a1": 0.8, "a2": 0.1}))
    # when / then: every subgraph carries the rings of its accounts, whatever its depth
    assert store.neighbourhood(["a2"], hops=1, hub_cap=10).rings == {"a1": "r1"}
    assert store.neighbourhood(["a2", "ghost"], hops=2, hub_cap=10).rings == {"a0": "r1", "a1": "r1"}
    assert store.neighbourhood(["ghost"], hops=1, hub_cap=10).rings == {}
    ring = store.get_ring("r1")
    assert ring is not None and store.ring_summary("r1") == ring.summary
    assert store.ring_summary("nope") is None


def test_upsert_and_neighbourhood_reads_the_upsert_and_dates_scores_that_settle_it(store: GraphStore) -> None:
    # given a stored account, and a newcomer sharing its card
    store.upsert_accounts([acct("a0", 0, (("card", "c01"),), plan="basic")])
    before = datetime.now(UTC)
    # when
    sub, as_of = store.upsert_and_neighbourhood(
        [acct("n1", 5, (("card", "c01"), ("device", "d1")), plan="pro")], hops=1, hub_cap=10
    )
    # then: the subgraph holds the upsert, as `neighbourhood` reads it afterwards
    assert sub.seeds == ["n1"] and set(sub.accounts) == {"a0", "n1"}
    assert sub.accounts["n1"].attributes == {"plan": "pro"}
    assert sub.identifiers == {IdentifierKey("card", "c01"): 2, IdentifierKey("device", "d1"): 1}
    assert sub == store.neighbourhood(["n1"], hops=1, hub_cap=10)
    # and a score as of the returned time settles the request the upsert made
    assert before <= as_of <= datetime.now(UTC)
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert store.pending_scores(later, 10) == ["n1"]
    store.write_scores([Score("n1", 0.5, "m1", as_of, as_of, [], None)])
    assert store.pending_scores(later, 10) == []
    # and a repeat merges with the stored account like `upsert_accounts`
    sub, _ = store.upsert_and_neighbourhood([acct("a0", 3, (("card", "c02"),), tier=2)], hops=2, hub_cap=10)
    assert sub.accounts["a0"].attributes == {"plan": "basic", "tier": 2} and sub.accounts["a0"].created_at == at(0)
    assert set(sub.accounts) == {"a0", "n1"} and IdentifierKey("card", "c02") in sub.identifiers


def test_write_score_and_read_returns_the_stored_account_and_its_ring(store: GraphStore) -> None:
    store.upsert_accounts([acct("a0", 0, (("card", "c01"),)), acct("a1", 1), acct("a2", 2)])
    store.publish_sweep(_sweep("s1", 10, {"r1": ["a0", "a1"]}, {"a0": 0.9, "a1": 0.8}))
    # when: an account outside the sweep's risks, and one inside a ring
    fresh = Score("a2", 0.4, "m2", at(20), at(20), [{"weight": 0.1}], None)
    ringed = Score("a0", 0.7, "m2", at(20), at(20), [], "r1")
    account, ring = store.write_score_and_read(fresh)
    # then: the account as get_account reads it after the write (the online score shows)
    assert account == store.get_account("a2") and account.risk == 0.4 and ring is None
    assert store.get_score("a2") == fresh
    account, ring = store.write_score_and_read(ringed)
    assert account == store.get_account("a0") and account.risk == 0.9  # the sweep covers a0
    assert ring == store.ring_summary("r1") and ring is not None and ring.size == 2
    # and a ring no longer current is no summary; an unknown account writes nothing
    assert store.write_score_and_read(Score("a1", 0.3, "m2", at(20), at(20), [], "gone"))[1] is None
    with pytest.raises(NotFound):
        store.write_score_and_read(Score("ghost", 0.5, "m2", at(20), at(20), [], None))
    assert store.get_score("ghost") is None


def test_ring_history_accumulates_across_sweeps(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(5)])
    risks = {f"a{i}": 0.5 for i in range(5)}
    store.publish_sweep(_sweep("s1", 10, {"r1": ["a0", "a1", "a2"]}, risks))
    store.publish_sweep(_sweep("s2", 20, {"r1": ["a0", "a1", "a2", "a3", "a4"]}, risks, {"r1": "grew"}))
    ring = store.get_ring("r1")
    assert ring is not None and ring.summary.size == 5 and ring.summary.updated_at == at(20)
    assert [(h.sweep_id, h.event, h.size) for h in ring.history] == [("s1", "created", 3), ("s2", "grew", 5)]


def test_pagination_walks_every_item_once_while_a_sweep_is_published(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i:03d}", i) for i in range(57)])
    risks = {f"a{i:03d}": round((i * 37 % 11) / 10, 2) for i in range(57)}
    rings = {f"r{i:02d}": [f"a{3 * i:03d}", f"a{3 * i + 1:03d}", f"a{3 * i + 2:03d}"] for i in range(19)}
    store.publish_sweep(_sweep("s1", 10, rings, risks))
    for order in ("risk_desc", "id"):
        seen, cursor, flipped = [], None, False
        while True:
            page = store.list_accounts(order, None, None, cursor, 10)  # type: ignore[arg-type]
            seen += [a.id for a in page.data]
            if not flipped:  # a new sweep lands mid-walk: the walk stays on the sweep it began with
                store.publish_sweep(_sweep("s2", 20, rings, {k: 1 - v for k, v in risks.items()}))
                flipped = True
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(risks) and len(seen) == len(set(seen))
        store.publish_sweep(_sweep("s1", 30, rings, risks))
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


def test_list_accounts_filters_by_label(store: GraphStore) -> None:
    store.upsert_accounts([acct(f"a{i}", i) for i in range(4)])
    store.add_labels([LabelIn("a2", "fraud", "cb", None, at(1)), LabelIn("a3", "legit", "kyc", None, at(1))])
    assert [a.id for a in store.list_accounts("id", None, "fraud", None, 10).data] == ["a2"]
    assert [a.id for a in store.list_accounts("id", None, None, None, 10).data] == ["a0", "a1", "a2", "a3"]


def test_benign_identifiers(store: GraphStore) -> None:
    key = IdentifierKey("bank_account", "payroll-1")
    store.set_benign(key, True)
    store.set_benign(key, True)
    assert store.benign_identifiers() == {key}
    store.set_benign(key, False)
    assert store.benign_identifiers() == set()


def test_jobs_record_their_lifecycle(store: GraphStore) -> None:
    job = store.create_job("sweep", {"why": "test"})
    assert job.status == "queued" and job.started_at is None
    running = store.update_job(job.id, "running")
    assert running.status == "running" and running.started_at is not None and running.finished_at is None
    done = store.update_job(job.id, "succeeded", {"rings": 3})
    assert done.status == "succeeded" and done.result == {"rings": 3} and done.finished_at is not None
    got = store.get_job(job.id)
    assert got == done and got.params == {"why": "test"}
    failed = store.update_job(store.create_job("train").id, "failed", error="boom")
    assert failed.error == "boom" and failed.kind == "train"
    assert store.get_job("nope") is None
    store.create_job("sweep")
    assert store.count_jobs() == {("sweep", "succeeded"): 1, ("sweep", "queued"): 1, ("train", "failed"): 1}


def test_job_ids_lists_jobs_by_status_oldest_first(store: GraphStore) -> None:
    first, second, third = (store.create_job("sweep") for _ in range(3))
    for job in (first, second):
        store.update_job(job.id, "running")
    assert store.job_ids("running") == [first.id, second.id]
    assert store.job_ids("running", limit=1) == [first.id]
    assert store.job_ids("queued") == [third.id] and store.job_ids("failed") == []


def test_locks_are_exclusive_reentrant_and_expire(store: GraphStore) -> None:
    assert store.acquire_lock("sweep", "w1", 60, now=at(0))
    assert store.acquire_lock("sweep", "w1", 60, now=at(0.5))
    assert not store.acquire_lock("sweep", "w2", 60, now=at(0.5))
    assert store.acquire_lock("sweep", "w2", 60, now=at(2))  # w1's lease ran out
    store.release_lock("sweep", "w1")  # not the owner: no effect
    assert not store.acquire_lock("sweep", "w3", 60, now=at(2.1))
    store.release_lock("sweep", "w2")
    assert store.acquire_lock("sweep", "w3", 60, now=at(2.2))


def test_only_one_of_many_concurrent_lockers_wins(store: GraphStore) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(4)

    def take(owner: str) -> None:
        barrier.wait()
        if store.acquire_lock("race", owner, 60):
            winners.append(owner)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


INJECTIONS = [
    "x' OR 1=1 --",
    'a"}) DETACH DELETE n //',
    "`Account`",
    "{id: 1}",
    "MATCH (n) DETACH DELETE n",
    "$param ${x} %s {{}}",
    "'; DROP TABLE accounts; --",
    "\\u0000\\n\\\\",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_hostile_strings_are_stored_verbatim_and_touch_nothing_else(store: GraphStore, payload: str) -> None:
    # given: an innocent account, and the store never builds queries from values
    store.upsert_accounts([acct("innocent", 0, (("card", "c1"),), note="hello")])
    before = snapshot(store)
    # when: ids (bypassing API validation on purpose), attribute keys and values carry the payload
    store.upsert_accounts(
        [AccountIn(payload, at(1), {payload: payload, "k": payload}, (Link("device", payload, at(1)),))]
    )
    store.add_labels([LabelIn(payload, "fraud", payload, payload, at(2))])
    # then
    got = store.get_account(payload)
    assert got is not None and got.attributes == {payload: payload, "k": payload}
    assert [(x.type, x.id) for x in got.links] == [("device", payload)]
    assert store.label_history(payload)[0].source == payload
    after = snapshot(store)
    assert [a for a in after[0] if a[0] != payload] == before[0]
    assert [x for x in after[1] if x[0] != payload] == before[1]
    assert store.count_accounts() == 2
