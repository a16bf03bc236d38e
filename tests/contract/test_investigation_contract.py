"""Paths and graph exports (contract 1.2) on every backend, on hand-made graphs whose answers are known."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from ringfence.core.errors import NotFound
from ringfence.core.settings import Settings
from ringfence.graph.investigation import serialize
from ringfence.graph.model import IdentifierInfo, IdentifierKey, LabelIn, RingIdentifier
from ringfence.graph.store import GraphStore
from ringfence.services import investigation
from tests.support.builders import account_in, at, sweep_result

SETTINGS = Settings(hub_cap=200)


def _chain(store: GraphStore) -> None:
    """s -dev1- a -card1- f (fraud); s -bank1- b -dev2- f too (an equally short path); x far away."""
    store.upsert_accounts([
        account_in("s", ("device", "dev1"), ("bank_account", "bank1"), at=at(0), seen=True),
        account_in("a", ("device", "dev1"), ("card", "card1"), at=at(1), seen=True),
        account_in("b", ("bank_account", "bank1"), ("device", "dev2"), at=at(2), seen=True),
        account_in("f", ("card", "card1"), ("device", "dev2"), ("card", "card9"), at=at(3), seen=True),
        account_in("g", ("card", "card9"), at=at(4), seen=True),
        account_in("x", ("card", "lonely"), at=at(5), seen=True),
    ])
    store.add_labels([LabelIn("f", "fraud", "cb", None, at(6)), LabelIn("g", "fraud", "cb", None, at(6))])


def test_paths_to_fraud_are_shortest_first_with_ties_by_id(store: GraphStore) -> None:
    # given two fraud accounts, one two hops away by two equally short routes, one three hops away
    _chain(store)
    # when
    found, truncated = investigation.paths(store, SETTINGS, "s", "fraud", max_hops=3, limit=10)
    # then f comes first, through `a` (ids: "a" < "b" at the first account step), then g
    assert [(p.path.target, p.path.hops) for p in found] == [("f", 2), ("g", 3)]
    assert [(n.kind, n.id) for n in found[0].path.steps] == [
        ("account", "s"), ("bank_account", "bank1"), ("account", "b"), ("device", "dev2"), ("account", "f")
    ] or [(n.kind, n.id) for n in found[0].path.steps] == [
        ("account", "s"), ("device", "dev1"), ("account", "a"), ("card", "card1"), ("account", "f")]
    assert found[0].label == "fraud" and not truncated
    # the same question twice gives the same path: the order is fixed, not the store's
    again, _ = investigation.paths(store, SETTINGS, "s", "fraud", max_hops=3, limit=10)
    assert [p.path for p in again] == [p.path for p in found]
    # max_hops bounds the walk, limit the answer
    assert [p.path.target for p in investigation.paths(store, SETTINGS, "s", "fraud", 2, 10)[0]] == ["f"]
    limited, cut = investigation.paths(store, SETTINGS, "s", "fraud", 3, 1)
    assert [p.path.target for p in limited] == ["f"] and cut
    # an account with no way to fraud has no path; an unknown one is NotFound
    assert investigation.paths(store, SETTINGS, "x", "fraud", 4, 10) == ([], False)
    with pytest.raises(NotFound):
        investigation.paths(store, SETTINGS, "nobody", "fraud", 2, 10)


def test_a_hub_is_walked_only_to_the_accounts_within_its_cap(store: GraphStore) -> None:
    # given a hub device shared by 6 accounts; the fraud account linked to it last
    store.upsert_accounts([account_in(f"h{i}", ("device", "hub"), at=at(i), seen=True) for i in range(5)])
    store.upsert_accounts([account_in("late", ("device", "hub"), at=at(10), seen=True)])
    store.add_labels([LabelIn("late", "fraud", "cb", None, at(11)), LabelIn("h2", "fraud", "cb", None, at(11))])
    # when the cap is 3: the hub is expanded to its 3 earliest-linked accounts only
    found, truncated = investigation.paths(store, SETTINGS, "h0", "fraud", 2, 10, hub_cap=3)
    # then h2 (within the cap) is reached through the hub, "late" (beyond it) is not
    assert [p.path.target for p in found] == ["h2"] and truncated
    uncapped, _ = investigation.paths(store, SETTINGS, "h0", "fraud", 2, 10, hub_cap=10)
    assert [p.path.target for p in uncapped] == ["h2", "late"]


def test_paths_to_flagged_rings_skip_rings_below_the_flag(store: GraphStore) -> None:
    _chain(store)
    risks = {"s": 0.1, "a": 0.2, "b": 0.3, "f": 0.9, "g": 0.95, "x": 0.1}
    store.publish_sweep(sweep_result("s1", 10, {"hot": ["f", "g"], "cold": ["a", "x"]},
                                     {**risks, "x": 0.1, "a": 0.2}))
    found, _ = investigation.paths(store, SETTINGS, "s", "ring", 3, 10)
    assert [(p.path.target, p.ring_id) for p in found] == [("f", "hot"), ("g", "hot")]


def _round_trip(raw: bytes, fmt: str) -> nx.Graph:
    if fmt == "graphml":
        ET.fromstring(raw)  # a strict XML parser: raises on anything malformed
        return nx.parse_graphml(raw.decode())
    if fmt == "gexf":
        ET.fromstring(raw)
        import io
        return nx.read_gexf(io.BytesIO(raw))
    return nx.node_link_graph(json.loads(raw), edges="edges")


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json"])
def test_a_ring_exports_and_reads_back_with_its_members_identifiers_and_links(store: GraphStore, fmt: str) -> None:
    # given a published ring of three members tied by a device, one labelled fraud
    store.upsert_accounts([account_in(m, ("device", "dev-r"), ("card", f"own-{m}"), at=at(i), seen=True)
                           for i, m in enumerate(["m1", "m2", "m3"])])
    store.add_labels([LabelIn("m1", "fraud", "cb", None, at(5))])
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["m1", "m2", "m3"]}, {"m1": 0.9, "m2": 0.8, "m3": 0.7}))
    # when it is exported and read back with networkx
    g = _round_trip(investigation.ring_file(store, SETTINGS, "r1", fmt), fmt)  # type: ignore[arg-type]
    # then the same nodes, edges and attributes
    assert set(g.nodes) == {"account:m1", "account:m2", "account:m3", "card:k-r1"}
    ring = store.get_ring("r1")
    assert ring is not None
    label = "account_label" if fmt == "gexf" else "label"  # GEXF's own `label` is the name a viewer shows
    assert g.nodes["account:m1"][label] == "fraud" and float(g.nodes["account:m1"]["risk"]) == 0.9
    assert label not in g.nodes["account:m2"] and g.nodes["account:m2"]["ring_id"] == "r1"
    assert g.nodes["account:m2"]["name"] == "m2"
    assert g.nodes["card:k-r1"]["type"] == "card" and int(g.nodes["card:k-r1"]["degree"]) == 3


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json"])
def test_a_subgraph_exports_and_reads_back_the_same_graph(store: GraphStore, fmt: str) -> None:
    _chain(store)
    sub = store.neighbourhood(["s"], 2, hub_cap=200)
    g = _round_trip(investigation.subgraph_file(store, sub, fmt), fmt)  # type: ignore[arg-type]
    assert {n for n in g.nodes if n.startswith("account:")} == {f"account:{a}" for a in sub.accounts}
    assert g.number_of_edges() == len(sub.edges)
    assert {(a, b) for a, b in g.edges} | {(b, a) for a, b in g.edges} >= {
        (f"account:{a}", f"{k.type}:{k.id}") for a, k, _ in sub.edges}
    assert g.nodes["account:f"]["account_label" if fmt == "gexf" else "label"] == "fraud"
    assert serialize(nx.Graph(), fmt)  # an empty graph is still a valid file


def test_an_identifier_reads_with_its_degree_span_rings_and_a_paged_walk_of_its_accounts(store: GraphStore) -> None:
    # given a device shared by 7 accounts linked at different times (two at the same minute), benign,
    # and tying a published ring
    store.upsert_accounts([account_in(f"d{i}", ("device", "shared"), at=at(10 - i if i < 6 else 5), seen=True)
                           for i in range(7)])
    store.upsert_accounts([account_in("other", ("card", "c-other"), at=at(0), seen=True)])
    store.set_benign(IdentifierKey("device", "shared"), True)
    result = sweep_result("s1", 20, {"r1": ["d0", "d1", "d2"]}, {f"d{i}": 0.5 for i in range(7)})
    result.rings[0].identifiers[:] = [RingIdentifier("device", "shared", 7)]
    store.publish_sweep(result)
    key = IdentifierKey("device", "shared")
    # when
    info = store.identifier(key)
    # then
    assert info is not None
    assert (info.accounts, info.benign, info.ring_ids) == (7, True, ["r1"])
    assert info.first_seen == at(5) and info.last_seen == at(10)
    # and a walk in pages of 3 returns every account once, earliest first, ties by id
    walked, cursor = [], None
    while True:
        page = store.identifier_accounts(key, cursor, 3)
        walked += [(x.account_id, x.first_seen) for x in page.data]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert walked == sorted(walked, key=lambda x: (x[1], x[0])) and len(walked) == 7
    assert [a for a, _ in walked][:3] == ["d5", "d6", "d4"]
    # and an identifier nobody links is None, its page empty
    assert store.identifier(IdentifierKey("device", "nobody")) is None
    assert store.identifier_accounts(IdentifierKey("device", "nobody"), None, 10).data == []
    assert store.identifier(IdentifierKey("card", "c-other")) == IdentifierInfo(
        IdentifierKey("card", "c-other"), 1, False, at(0), at(0), [])


def test_a_ring_reads_with_which_member_uses_which_identifier(store: GraphStore) -> None:
    store.upsert_accounts([account_in(m, ("device", "dev-r"), ("card", f"own-{m}"), at=at(i), seen=True)
                           for i, m in enumerate(["m1", "m2", "m3"])])
    store.publish_sweep(sweep_result("s1", 10, {"r1": ["m1", "m2", "m3"]}, {"m1": 0.9, "m2": 0.8, "m3": 0.7}))
    ring, links = investigation.ring_with_links(store, "r1")
    assert ring.summary.id == "r1"
    assert links == []  # the published ring is tied by card k-r1, which nobody holds here
    result = sweep_result("s2", 20, {"r1": ["m1", "m2", "m3"]}, {"m1": 0.9, "m2": 0.8, "m3": 0.7})
    result.rings[0].identifiers[:] = [RingIdentifier("device", "dev-r", 3)]
    store.publish_sweep(result)
    _, links = investigation.ring_with_links(store, "r1")
    assert sorted(links) == [(m, IdentifierKey("device", "dev-r")) for m in ("m1", "m2", "m3")]
    with pytest.raises(NotFound):
        investigation.ring_with_links(store, "nope")
