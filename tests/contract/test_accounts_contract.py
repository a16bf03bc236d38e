"""The store contract for `AccountStore` and `StoreLifecycle`: accounts, links, labels,
benign identifiers, subgraphs, streams and the whole-graph bulk read.

Every test runs on each backend (the `store` fixture) with identical assertions.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from ringfence.core.errors import NotFound
from ringfence.graph.arrays import GraphArrays, arrays_from_streams
from ringfence.graph.model import (
    ID_TYPES,
    AccountIn,
    IdentifierKey,
    LabelIn,
    Link,
    Score,
)
from ringfence.graph.store import GraphStore
from tests.contract.snapshots import snapshot
from tests.support.builders import acct, at


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


def test_attributes_read_back_exactly_on_the_api_and_the_scoring_reads(store: GraphStore) -> None:
    # given: integers past 64 bits, which a fast JSON reader turns into floats without a word
    attributes = {"big": 2**70 + 1, "negative": -(2**64) - 1, "near": 2**63 - 1, "x": 1.5, "s": "ü"}
    store.upsert_accounts([AccountIn("a1", at(5), attributes, (Link("card", "c1", None),))])
    # when: the account as the API reads it, and as an online score's subgraph reads it
    got = store.get_account("a1")
    sub = store.neighbourhood(["a1"], hops=1, hub_cap=10)
    # then: the same values of the same types
    assert got is not None
    for read in (got.attributes, sub.accounts["a1"].attributes):
        assert _typed(read) == _typed(attributes)


def _typed(values: dict[str, object]) -> list[tuple[str, type, object]]:
    return sorted((k, type(v), v) for k, v in values.items())


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
    """`load_arrays` (each backend's bulk path) reads what the streams return."""
    store.upsert_accounts([acct(f"a{i:02d}", i, (("card", f"c{i % 5}"), ("device", f"d{i % 3}")), n=i, tag=f"t{i % 2}")
                           for i in range(17)] + [acct("lonely", 3)])
    store.set_benign(IdentifierKey("device", "d1"), True)
    store.add_labels([LabelIn("a03", "fraud", "test", None, at(1))])
    g = store.load_arrays(attributes=True, chunk_size=4)
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


def _assert_same_arrays(got: GraphArrays, expected: GraphArrays) -> None:
    """Equal field by field; links in any order (each backend reads them in its own)."""

    def edges(g: GraphArrays) -> list[tuple[int, int, float]]:
        return sorted(zip(g.e_acc.tolist(), g.e_id.tolist(), g.e_first.tolist(), strict=True))

    assert edges(got) == edges(expected)
    for f in fields(GraphArrays):
        x, y = getattr(got, f.name), getattr(expected, f.name)
        if f.name in ("e_acc", "e_id", "e_first"):
            assert x.dtype == y.dtype, f.name
        elif isinstance(y, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name
        elif isinstance(y, dict):
            assert x.keys() == y.keys(), f.name
            for key, col in y.items():
                assert np.array_equal(x[key], col, equal_nan=True), (f.name, key)
        else:
            assert x == y, f.name


def test_whole_graph_arrays_with_attribute_columns_equal_the_stream_reference(store: GraphStore) -> None:
    # given: numeric, categorical and boolean attributes (some missing), labels, a benign hub
    from ringfence.gnn.features import FeatureSchema

    store.upsert_accounts([acct(f"a{i:02d}", i, (("card", f"c{i % 4}"), ("device", "hub"), ("bank_account", f"b{i}")),
                                amount=i * 1.5, country=["DE", "FR", "PL"][i % 3], verified=i % 2 == 0)
                           for i in range(11)] + [acct("bare", 2), acct("half", 4, (("card", "c1"),), amount=3)])
    store.set_benign(IdentifierKey("device", "hub"), True)
    store.add_labels([LabelIn("a02", "fraud", "cb", None, at(1)), LabelIn("a05", "legit", "kyc", None, at(2))])
    schema = FeatureSchema.fit(a for chunk in store.stream_accounts() for a in chunk)
    for attributes in (False, True, schema):
        # when
        got = store.load_arrays(attributes=attributes, chunk_size=3)
        # then
        _assert_same_arrays(got, arrays_from_streams(store, attributes=attributes, chunk_size=3))
    assert got.columns is not None and got.labelled_at[2] == at(1).timestamp() and got.label.tolist()[2] == 1


def test_whole_graph_arrays_of_an_empty_store_are_empty(store: GraphStore) -> None:
    g = store.load_arrays(attributes=True)
    assert (g.n_accounts, g.n_identifiers, g.n_links, g.attributes) == (0, 0, 0, [])
    _assert_same_arrays(g, arrays_from_streams(store, attributes=True))


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


def test_benign_identifiers(store: GraphStore) -> None:
    key = IdentifierKey("bank_account", "payroll-1")
    store.set_benign(key, True)
    store.set_benign(key, True)
    assert store.benign_identifiers() == {key}
    store.set_benign(key, False)
    assert store.benign_identifiers() == set()


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
