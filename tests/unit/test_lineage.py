"""Ring identity across sweeps: pure matching logic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.graph.detection import content_id
from ringfence.graph.lineage import match_rings


def m(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{k:02d}" for k in range(start, start + n)]


def test_first_sweep_creates_with_content_ids() -> None:
    out, dissolved = match_rings([m("a", 4), m("b", 3)], {})
    assert [(x.ring_id, x.event) for x in out] == [
        (content_id(m("a", 4)), "created"), (content_id(m("b", 3)), "created")
    ]
    assert out[0].ring_id.startswith("r-") and len(out[0].ring_id) == 14
    assert dissolved == []


def test_unchanged_grew_shrank_dissolved() -> None:
    prev = {"r-a": m("a", 6), "r-b": m("b", 6), "r-c": m("c", 5), "r-d": m("d", 3)}
    groups = [m("a", 6), m("b", 8), m("c", 4)]
    out, dissolved = match_rings(groups, prev)
    assert [(x.ring_id, x.event) for x in out] == [("r-a", "unchanged"), ("r-b", "grew"), ("r-c", "shrank")]
    assert dissolved == [("r-d", 3)]


def test_low_overlap_is_a_new_ring() -> None:
    prev = {"r-a": m("a", 10)}
    out, dissolved = match_rings([m("a", 3) + m("z", 5)], prev)  # 3 of 10 old, mostly new people
    assert out[0].event == "created" and out[0].ring_id != "r-a"
    assert dissolved == [("r-a", 10)]


def test_merged_keeps_largest_id() -> None:
    prev = {"r-big": m("a", 6), "r-small": m("b", 4)}
    out, dissolved = match_rings([m("a", 6) + m("b", 4)], prev)
    assert [(x.ring_id, x.event, x.merged_from) for x in out] == [("r-big", "merged", ("r-small",))]
    assert dissolved == [("r-small", 4)]


def test_merged_from_names_every_ring_that_dissolved_into_it() -> None:
    prev = {"r-a": m("a", 6), "r-c": m("c", 3), "r-b": m("b", 4), "r-d": m("d", 4)}
    out, dissolved = match_rings([m("a", 6) + m("c", 3) + m("b", 4), m("d", 4)], prev)
    assert [(x.ring_id, x.event, x.merged_from) for x in out] == [
        ("r-a", "merged", ("r-b", "r-c")), ("r-d", "unchanged", ())]
    assert dissolved == [("r-b", 4), ("r-c", 3)]


def test_split_largest_part_keeps_id() -> None:
    prev = {"r-a": m("a", 10)}
    out, dissolved = match_rings([m("a", 4), m("a", 6, start=4)], prev)
    assert out[1].ring_id == "r-a" and out[1].event == "split"
    assert out[0].ring_id == content_id(m("a", 4)) and out[0].event == "split"
    assert dissolved == []


def test_new_id_never_collides_with_an_id_in_use() -> None:
    members = m("x", 3)
    prev = {content_id(members): m("q", 5)}  # same content id held by an unrelated old ring
    out, _ = match_rings([members], prev)
    assert out[0].ring_id != content_id(members) and out[0].event == "created"


groups_strategy = st.lists(st.sets(st.integers(0, 60), min_size=3, max_size=12), max_size=8)


@settings(max_examples=80, deadline=None)
@given(groups_strategy, groups_strategy)
def test_matching_properties(old_sets: list[set[int]], new_sets: list[set[int]]) -> None:
    def disjoint(sets: list[set[int]]) -> list[list[str]]:
        seen: set[int] = set()
        out = []
        for s in sets:
            s = s - seen
            seen |= s
            if len(s) >= 3:
                out.append(sorted(f"a{x:02d}" for x in s))
        return out

    old = {f"r-old{k}": g for k, g in enumerate(disjoint(old_sets))}
    new = disjoint(new_sets)
    out, dissolved = match_rings(new, old)
    again, dissolved_again = match_rings(new, old)
    assert out == again and dissolved == dissolved_again  # deterministic
    ids = [x.ring_id for x in out]
    assert len(set(ids)) == len(ids)  # one id per group
    kept = {x.ring_id for x in out if x.previous_id}
    assert kept | {r for r, _ in dissolved} == set(old)  # every old ring continues or dissolves
    assert not kept & {r for r, _ in dissolved}
    for x in out:
        if x.event == "unchanged":
            assert old[x.ring_id] == new[x.index]
        if x.previous_id is None:
            assert x.ring_id not in old
