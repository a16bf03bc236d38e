"""A sharded sweep's finish matches ring identity a few shards at a time
(`services.staged_lineage`) and gives what matching every ring at once gives
(`services.publish.build_result`): ids, events, merges, creation times, the dissolved."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.graph.detection import content_id
from ringfence.graph.model import PublishedRing, RingIdentifier, RingList, SweepResult
from ringfence.graph.store import GraphStore
from ringfence.services.publish import RingDraft, build_result
from ringfence.services.staged_lineage import match_staged
from tests.support.builders import at

ACCOUNTS = [f"a{k:02d}" for k in range(40)]


def _publish_previous(store: GraphStore, rings: dict[str, list[str]]) -> None:
    """A current sweep of `rings`, each created at its own time."""
    published = RingList(
        PublishedRing(rid, 0.1 * (k % 10), members, [RingIdentifier("card", f"k-{rid}", len(members))],
                      at(k), "created")
        for k, (rid, members) in enumerate(sorted(rings.items())))
    risks = {m: 0.5 for members in rings.values() for m in members}
    store.publish_sweep(SweepResult("s-prev", at(100), at(101), "m1", risks, published))


def _draft(members: list[str], rng: random.Random) -> RingDraft:
    members = sorted(members)
    return RingDraft(members, [RingIdentifier("device", f"d-{members[0]}", len(members))],
                     {"size": float(len(members))}, rng.random())


def _compare(store: GraphStore, shards: list[list[RingDraft]]) -> dict[str, Any]:
    started = at(200)
    single = build_result(store, [d for s in shards for d in s], {}, sweep_id="s-new", started=started,
                          model_version="m1", stats={})
    staged = match_staged(store, len(shards), lambda k: shards[k], started)

    def view(rings: Any) -> list[Any]:
        return [(r.id, r.event, r.members, r.created_at, r.merged_from, r.risk, r.identifiers, r.features)
                for r in rings]

    assert view(staged.rings) == view(single.rings)
    assert staged.dissolved == single.dissolved
    assert staged.events == single.stats["events"] and staged.high_risk == single.stats["high_risk_rings"]
    assert len(staged.rings) == len(single.rings)
    members = [m for s in shards for d in s for m in d.member_ids]
    assert staged.rings.ring_of(members + ["nobody"]) == single.rings.ring_of(members + ["nobody"])
    return {"sets": staged.sets, "events": staged.events}


def _partition(rng: random.Random, accounts: list[str], size: tuple[int, int]) -> list[list[str]]:
    pool = accounts[:]
    rng.shuffle(pool)
    out, k = [], 0
    while k < len(pool):
        n = rng.randint(*size)
        if len(pool) - k >= 2:
            out.append(pool[k:k + max(2, n)])
        k += max(2, n)
    return [g for g in out if len(g) >= 2]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n_shards=st.integers(1, 6))
def test_staged_matching_equals_matching_every_ring_at_once(sqlite_store: GraphStore, seed: int,
                                                           n_shards: int) -> None:
    rng = random.Random(seed)
    sqlite_store.reset()
    # given: a current sweep of random rings over some accounts, and new groups over others,
    # overlapping them, dealt to shards at random (so old rings span shards)
    previous = {content_id(sorted(g)): sorted(g) for g in _partition(rng, rng.sample(ACCOUNTS, 30), (2, 7))}
    if previous:
        _publish_previous(sqlite_store, previous)
    groups = _partition(rng, rng.sample(ACCOUNTS, rng.randint(0, 36)), (2, 9))
    shards: list[list[RingDraft]] = [[] for _ in range(n_shards)]
    for g in groups:
        shards[rng.randrange(n_shards)].append(_draft(g, rng))
    # when / then
    _compare(sqlite_store, shards)


def test_every_event_across_shards_on_both_backends(store: GraphStore) -> None:
    rng = random.Random(3)
    a = [f"a{k:02d}" for k in range(30)]
    clash = ["n1", "n2"]  # a new group whose content id an unrelated current ring already has
    previous = {"r-keep": a[0:4], "r-grow": a[4:8], "r-shrink": a[8:14], "r-m1": a[14:18], "r-m2": a[18:20],
                "r-split": a[20:28], "r-gone": a[28:30], content_id(clash): ["p1", "p2"]}
    _publish_previous(store, previous)
    shards = [
        [_draft(a[0:4], rng), _draft(a[4:8] + ["x1"], rng)],
        [_draft(a[8:12], rng), _draft(a[14:20], rng)],  # r-m1 and r-m2 merge
        [_draft(a[20:24], rng)],  # r-split's two parts in two shards: shards 2 and 3 are joined
        [_draft(a[24:28], rng), _draft(clash, rng)],
        [],
    ]
    figures = _compare(store, shards)
    assert figures["events"] == {"unchanged": 1, "grew": 1, "shrank": 1, "merged": 1, "split": 2, "created": 1,
                                 "dissolved": 3}  # r-m2, r-gone and the clash's ring
    assert figures["sets"] == 4  # shards 2 and 3 joined; the empty shard 4 is a set of its own


def test_a_ring_created_now_keeps_its_time_and_old_ones_theirs(sqlite_store: GraphStore) -> None:
    _publish_previous(sqlite_store, {"r-old": ["a1", "a2", "a3"]})
    staged = match_staged(sqlite_store, 1, lambda k: [_draft(["a1", "a2", "a3"], random.Random(1)),
                                                       _draft(["b1", "b2"], random.Random(2))], at(200))
    created = {r.id: r.created_at for r in staged.rings}
    assert created == {"r-old": at(0), content_id(["b1", "b2"]): at(200)}
