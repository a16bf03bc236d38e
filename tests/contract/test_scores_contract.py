"""The store contract for `ScoreStore`: online scores, score requests, and the online path's
combined calls (`upsert_and_neighbourhood`, `write_score_and_read`).

Every test runs on each backend (the `store` fixture) with identical assertions.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ringfence.core.errors import NotFound
from ringfence.graph.model import (
    IdentifierKey,
    Score,
)
from ringfence.graph.store import GraphStore
from tests.support.builders import acct, at, sweep_result


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
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["a0", "a1"]}, {"a0": 0.9, "a1": 0.8}))
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
