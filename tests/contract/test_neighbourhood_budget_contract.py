"""The neighbourhood's node and edge budget (issue #14: hub-shaped data) on every backend:
bounded while read, `truncated` when it cut, the same deterministic choice on both backends,
and the unbounded answer, orders included, whenever it fits."""

from __future__ import annotations

import pytest

from ringfence.graph.model import IdentifierKey, LabelIn, Score, Subgraph
from ringfence.graph.store import GraphStore
from tests.support.builders import acct, at, sweep_result

HUBS = [("device", f"hub-{n}") for n in range(8)]


def _hub_world(store: GraphStore, accounts: int = 30) -> None:
    """`accounts` accounts (acc-00 first, one minute apart) all linked to the same 8 identifiers."""
    store.upsert_accounts([acct(f"acc-{n:02d}", n, tuple(HUBS)) for n in range(accounts)])


def _edges(sub: Subgraph) -> set[tuple[str, str]]:
    return {(a, k.id) for a, k, _ in sub.edges}


def _shape(sub: Subgraph) -> tuple[object, ...]:
    """Everything a response is built from, in its orders."""
    return (sub.seeds, list(sub.accounts.items()), list(sub.identifiers.items()), sub.edges, sub.capped,
            sorted(sub.benign, key=lambda k: (k.type, k.id)), sorted(sub.rings.items()))


def test_the_edge_budget_keeps_breadth_first_order_and_says_it_cut(store: GraphStore) -> None:
    # given 30 accounts sharing 8 identifiers (240 edges)
    _hub_world(store)
    # when at most 50 edges may be kept
    sub = store.neighbourhood(["acc-00"], 1, hub_cap=100, max_nodes=1000, max_edges=50)
    # then the seed's own 8 links, hub-0's other 29 accounts (earliest first), then hub-1's first 13
    assert sub.truncated and len(sub.edges) == 50
    assert _edges(sub) == ({("acc-00", k) for _, k in HUBS}
                           | {(f"acc-{n:02d}", "hub-0") for n in range(1, 30)}
                           | {(f"acc-{n:02d}", "hub-1") for n in range(1, 14)})
    # every identifier met is kept with its full degree, and every account reached
    assert sub.identifiers == {IdentifierKey(t, i): 30 for t, i in HUBS}
    assert list(sub.accounts) == [f"acc-{n:02d}" for n in range(30)]
    assert sub.capped == []  # the hub cap did not cut: the budget did


def test_the_node_budget_keeps_the_first_accounts_and_their_edges(store: GraphStore) -> None:
    _hub_world(store)
    # when at most 12 nodes: the seed, its 8 identifiers and hub-0's 3 earliest other accounts
    sub = store.neighbourhood(["acc-00"], 1, hub_cap=100, max_nodes=12, max_edges=1000)
    # then edges among the kept nodes are all kept, nothing else
    assert sub.truncated
    assert list(sub.accounts) == ["acc-00", "acc-01", "acc-02", "acc-03"]
    assert _edges(sub) == {(f"acc-{n:02d}", k) for n in range(4) for _, k in HUBS}
    assert len(sub.accounts) + len(sub.identifiers) == 12


def test_a_budget_of_deeper_hops_is_shared_by_all_hops(store: GraphStore) -> None:
    # given a chain s - c1 - a - c2 - b - c3 - far
    store.upsert_accounts([acct("s", 0, (("card", "c1"),)), acct("a", 1, (("card", "c1"), ("card", "c2"))),
                           acct("b", 2, (("card", "c2"), ("card", "c3"))), acct("far", 3, (("card", "c3"),))])
    # when three hops are asked with room for five edges
    sub = store.neighbourhood(["s"], 3, hub_cap=100, max_nodes=100, max_edges=5)
    # then the first five edges breadth-first, and the cut is said
    assert sub.truncated
    assert _edges(sub) == {("s", "c1"), ("a", "c1"), ("a", "c2"), ("b", "c2"), ("b", "c3")}
    assert "far" not in sub.accounts


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("hub_cap", [2, 100])
def test_a_neighbourhood_that_fits_is_the_unbounded_one_orders_included(
    store: GraphStore, hops: int, hub_cap: int
) -> None:
    # given a small world with a hub over the small cap, a benign identifier, labels and rings
    store.upsert_accounts([
        acct("s", 0, (("device", "d1"), ("card", "k1"))),
        acct("a", 1, (("device", "d1"), ("bank_account", "b1"))),
        acct("b", 2, (("device", "d1"), ("card", "k2"))),
        acct("c", 3, (("device", "d1"),)),
        acct("d", 4, (("bank_account", "b1"), ("card", "k3"))),
        acct("e", 5, (("card", "k3"), ("bank_account", "e1"))),
        acct("f", 6, (("bank_account", "e1"),)),
        acct("g", 7, (("card", "k2"),)),
    ])
    store.set_benign(IdentifierKey("bank_account", "b1"), True)
    store.add_labels([LabelIn("d", "fraud", "cb", None, at(8))])
    store.publish_sweep(sweep_result("s1", 9, {"r1": ["a", "d"]}, {"a": 0.9, "d": 0.8}))
    full = store.neighbourhood(["s"], hops, hub_cap=hub_cap)
    size = len(full.accounts) + len(full.identifiers)
    # when the budget is larger, or exactly the size
    for nodes, edges in [(1000, 1000), (size, len(full.edges))]:
        sub = store.neighbourhood(["s"], hops, hub_cap=hub_cap, max_nodes=nodes, max_edges=edges)
        # then the same subgraph, in the same orders, and nothing said cut
        assert _shape(sub) == _shape(full) and not sub.truncated
    # one less of either is a cut
    assert store.neighbourhood(["s"], hops, hub_cap, max_nodes=size - 1, max_edges=1000).truncated
    assert store.neighbourhood(["s"], hops, hub_cap, max_nodes=1000, max_edges=len(full.edges) - 1).truncated


def test_unknown_seeds_are_ignored_under_a_budget(store: GraphStore) -> None:
    _hub_world(store, 3)
    sub = store.neighbourhood(["nobody"], 2, hub_cap=10, max_nodes=10, max_edges=10)
    assert (sub.seeds, sub.accounts, sub.edges, sub.truncated) == ([], {}, [], False)


def test_get_risks_is_get_accounts_risk_without_links(store: GraphStore) -> None:
    # given a sweep risk for one account, an online score for another, nothing for a third
    _hub_world(store, 3)
    store.write_scores([Score("acc-01", 0.4, "m1", at(5), at(5))])
    store.write_scores([Score("acc-00", 0.1, "m1", at(5), at(5))])
    store.publish_sweep(sweep_result("s1", 9, {}, {"acc-00": 0.7}))
    # when
    risks = store.get_risks(["acc-00", "acc-01", "acc-02", "nobody", "acc-00"])
    # then the sweep's risk wins, else the score, and unknown accounts are left out
    assert risks == {a.id: a.risk for a in store.get_accounts(["acc-00", "acc-01", "acc-02"])}
    assert risks == {"acc-00": 0.7, "acc-01": 0.4, "acc-02": None}
    assert store.get_risks([]) == {}
