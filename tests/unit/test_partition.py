"""The partition step never splits a ring, and packs whole components into shards."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.graph.detection import DetectionParams, detect, graph_from_links
from ringfence.graph.model import IdentifierKey
from ringfence.graph.partition import (
    ComponentStream,
    ComponentTable,
    LinkingComponents,
    canonical,
    components,
    linking_components_of,
    linking_mask,
    partition_arrays,
)

TYPES = ("device", "card", "bank_account")


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[tuple[str, str, str]], list[IdentifierKey], int, int]:
    n_acc = draw(st.integers(2, 40))
    n_id = draw(st.integers(1, 25))
    links = draw(st.lists(st.tuples(st.integers(0, n_acc - 1), st.integers(0, n_id - 1)), min_size=1, max_size=120))
    triples = [(f"a{a:03d}", TYPES[j % 3], f"i{j:03d}") for a, j in links]
    benign_ids = draw(st.sets(st.integers(0, n_id - 1), max_size=3))
    benign = [IdentifierKey(TYPES[j % 3], f"i{j:03d}") for j in benign_ids]  # type: ignore[arg-type]
    hub_cap = draw(st.integers(2, 8))
    shard_links = draw(st.integers(1, 60))
    return triples, benign, hub_cap, shard_links


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_the_partition_never_splits_a_ring(case: tuple[list[tuple[str, str, str]], list[IdentifierKey], int, int]
                                           ) -> None:
    triples, benign, hub_cap, shard_links = case
    g = graph_from_links(triples, benign=benign)
    p = DetectionParams(hub_cap=hub_cap, min_ring_size=2)
    part = partition_arrays(g, hub_cap, shard_links)
    # every account in exactly one shard, ascending inside each
    flat = np.concatenate(part.shards)
    assert sorted(flat.tolist()) == list(range(g.n_accounts))
    assert all((np.diff(s) > 0).all() for s in part.shards)
    shard_of = np.empty(g.n_accounts, dtype=np.int64)
    for k, s in enumerate(part.shards):
        shard_of[s] = k
    # no ring crosses shards, and no component either
    for group in detect(g, p).groups:
        assert len({int(shard_of[m]) for m in group.members}) == 1
    for c in np.unique(part.component):
        assert len(set(shard_of[part.component == c].tolist())) == 1
    # a shard holds more than `shard_links` units only when it is one oversize component
    weight = 1 + np.bincount(g.e_acc, minlength=g.n_accounts)
    for k, s in enumerate(part.shards):
        if int(weight[s].sum()) > shard_links:
            assert len(np.unique(part.component[s])) == 1
            assert any(o["shard"] == k for o in part.oversize)


def test_components_skip_hubs_and_benign_identifiers() -> None:
    # given: a and b share a card; c and d share a benign device; e and f a hub (cap 2) with g
    triples = [("a", "card", "k1"), ("b", "card", "k1"), ("c", "device", "d1"), ("d", "device", "d1"),
               ("e", "device", "hub"), ("f", "device", "hub"), ("g", "device", "hub")]
    g = graph_from_links(triples, benign=[IdentifierKey("device", "d1")])
    linking = linking_mask(g.degree(), g.benign, hub_cap=2)
    # when
    comp = components(g.n_accounts, g.n_identifiers, g.e_acc, g.e_id, linking)
    # then
    assert comp.tolist() == [0, 0, 1, 2, 3, 4, 5]


def test_canonical_numbers_components_by_smallest_account() -> None:
    assert canonical(np.array([7, 3, 7, 9, 3])).tolist() == [0, 1, 0, 2, 1]


def test_pack_reports_a_component_larger_than_a_shard() -> None:
    # weights (1 + links) 3, 3, 3, 1, 1: component 0 weighs 9 against shards of 4
    lc = LinkingComponents([f"a{k}" for k in range(5)], np.array([0, 0, 0, 1, 2]), np.array([2, 2, 2, 0, 0]))
    part = lc.partition(hub_cap=5, shard_links=4)
    shards, oversize = part.shards, part.oversize
    assert [s.tolist() for s in shards] == [[0, 1, 2], [3, 4]]
    assert oversize == [{"shard": 0, "accounts": 3, "links": 9, "hub_cap": 5}]


@settings(max_examples=150, deadline=None)
@given(graphs(), st.integers(1, 50), st.integers(1, 30))
def test_the_streamed_components_are_those_of_the_whole_graph(
        case: tuple[list[tuple[str, str, str]], list[IdentifierKey], int, int], chunk: int, flush: int) -> None:
    # given link rows in identifier order, cut into chunks that split identifiers' runs anywhere
    triples, benign, hub_cap, _ = case
    g = graph_from_links(triples, benign=benign)
    want = linking_components_of(g, hub_cap)
    order = sorted(range(g.n_links), key=lambda e: (str(g.id_type[g.e_id[e]]), g.id_value[g.e_id[e]]))
    rows = [(int(g.e_acc[e]), str(g.id_type[g.e_id[e]]), g.id_value[g.e_id[e]]) for e in order]
    benign_keys = {(str(g.id_type[j]), g.id_value[j]) for j in np.flatnonzero(g.benign)}
    # when
    stream = ComponentStream(g.n_accounts, hub_cap, benign_keys, flush_edges=flush)
    for lo in range(0, len(rows), chunk):
        codes, types, values = zip(*rows[lo:lo + chunk], strict=True)
        stream.add(np.array(codes), types, values)
    component, links, hubs = stream.finish()
    # then
    assert canonical(component).tolist() == canonical(want.component).tolist()
    assert links.tolist() == want.links.tolist() and hubs == want.hubs


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_the_component_table_packs_the_shards_of_the_reference(
        case: tuple[list[tuple[str, str, str]], list[IdentifierKey], int, int]) -> None:
    # given the reference partition (shards of account codes) of a random graph
    triples, benign, hub_cap, shard_links = case
    g = graph_from_links(triples, benign=benign)
    lc = linking_components_of(g, hub_cap)
    reference = lc.partition(hub_cap, shard_links)
    # when the coordinator sees integers per component only
    label = canonical(lc.component)
    lean = ComponentTable.of(label, lc.links, lc.hubs).partition(hub_cap, shard_links)
    # then its shards hold the same accounts, with the same figures
    assert [np.flatnonzero(np.isin(label, s)).tolist() for s in lean.shards] == [s.tolist() for s in reference.shards]
    assert lean.oversize == reference.oversize and lean.stats == reference.stats
    assert lean.stats["accounts"] == g.n_accounts and lean.stats["links"] == g.n_links
