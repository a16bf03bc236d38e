"""What the Neo4j upsert sends (graph/neo4j_store.upsert_parameters): a batch's accounts folded as
applying them one by one would, each link naming its identifier by position in its type's list,
and those lists sorted by key (the global order that keeps concurrent batches from deadlocking)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.graph.model import ID_TYPES, AccountIn, Link
from ringfence.graph.neo4j_queries import identifier_key, merge_attributes
from ringfence.graph.neo4j_store import upsert_parameters
from ringfence.graph.neo4j_typed import TYPE_ORDER, TYPED_MODEL
from ringfence.graph.stored_json import encode_attributes, load_attributes

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_when = st.integers(0, 50).map(lambda h: T0 + timedelta(hours=h))
_links = st.tuples(st.sampled_from(ID_TYPES), st.sampled_from(["x", "y", "z", "x|1", "é"]), st.none() | _when).map(
    lambda t: Link(t[0], t[1], t[2]))
_accounts = st.lists(
    st.builds(AccountIn, st.sampled_from(["a", "b", "c", "d"]), _when,
              st.dictionaries(st.sampled_from(["country", "n", "vip"]), st.integers(0, 3) | st.booleans(), max_size=2),
              st.lists(_links, max_size=4).map(tuple)),
    max_size=8,
)


def _one_by_one(accounts: list[AccountIn]) -> dict[str, Any]:
    """The reference: each account applied in turn, as the merge rules say."""
    out: dict[str, Any] = {}
    for a in accounts:
        m = out.setdefault(a.id, {"created_at": a.created_at.timestamp(), "attributes": {}, "links": {}})
        m["created_at"] = min(m["created_at"], a.created_at.timestamp())
        m["attributes"].update(a.attributes)
        for link in a.links:
            seen = (link.seen_at or a.created_at).timestamp()
            first, last = m["links"].get((link.type, link.id), (seen, seen))
            m["links"][(link.type, link.id)] = (min(first, seen), max(last, seen))
    return out


@settings(max_examples=300, deadline=None)
@given(_accounts)
def test_each_link_names_its_identifier_by_position_and_the_batch_folds_as_one_by_one(
    accounts: list[AccountIn],
) -> None:
    # when
    _, rows, identifiers, link_count = upsert_parameters(accounts)
    # then the identifier lists are each type's keys, once each, in key order
    for t in TYPE_ORDER:
        keys = [k for k, _ in identifiers[TYPED_MODEL[t].param]]
        assert keys == sorted(set(keys))
        assert all(k == identifier_key(t, i) for k, i in identifiers[TYPED_MODEL[t].param])
    # and reading each link's position back gives what applying the accounts one by one gives
    expected = _one_by_one(accounts)
    assert [r["id"] for r in rows] == sorted(expected)
    for r in rows:
        links = {(t, identifiers[TYPED_MODEL[t].param][pos][1]): (f, la)
                 for t in TYPE_ORDER for pos, f, la in r[TYPED_MODEL[t].param]}
        assert links == expected[r["id"]]["links"]
        assert r["created_at"] == expected[r["id"]]["created_at"]
        assert json.loads(r["attributes"]) == expected[r["id"]]["attributes"]
    assert link_count == sum(len(a.links) for a in accounts)


_values = (st.text(max_size=6) | st.just("a\ud800") | st.integers(-(2**70), 2**70) | st.booleans()
           | st.floats(allow_nan=True, allow_infinity=True))
_attributes = st.dictionaries(st.text(max_size=4), _values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(_attributes, _attributes)
def test_attributes_are_stored_as_sorted_json_that_reads_back(old: dict[str, Any], new: dict[str, Any]) -> None:
    # when
    text = merge_attributes(encode_attributes(old), new)
    # then: every value back as it was (big integers, NaN and infinities included), keys in order
    text.encode("utf-8")  # what the driver sends: a lone surrogate must arrive escaped
    back = load_attributes(text)  # what both stores read it with: what json.loads reads, type for type
    assert [(type(v), repr(v)) for v in back.values()] == [(type(v), repr(v)) for v in json.loads(text).values()]
    merged = {**old, **new}
    assert list(back) == sorted(merged)
    for k, v in merged.items():
        assert back[k] == v or (isinstance(v, float) and math.isnan(v) and math.isnan(back[k]))
        assert type(back[k]) is type(v)
