"""`graph.loader.load_records` (what `ringfence load` runs) on every backend: batches written by
its writer thread land in file order, loading twice changes nothing, a bad record stops it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ringfence.core.errors import InvalidInput
from ringfence.graph.loader import account_from_record, load_records, read_jsonl
from ringfence.graph.store import GraphStore


def _records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k in range(20):
        out.append({"id": f"a{k % 7}", "created_at": f"2026-01-01T00:{k:02d}:00Z",
                    "attributes": {"step": k, f"seen_{k % 3}": True},
                    "links": [{"type": "card", "id": f"c{k % 5}", "seen_at": f"2026-01-02T00:{k:02d}:00Z"},
                              {"type": "device", "id": f"d{k % 4}"}],
                    **({"label": "fraud" if k % 2 else "legit"} if k % 5 == 0 else {})})
    return out


def _view(store: GraphStore) -> list[Any]:
    accounts = store.get_accounts([f"a{k}" for k in range(7)])
    return [(a.id, a.created_at, a.attributes, a.links, a.label) for a in accounts]


def test_a_pipelined_load_equals_applying_the_records_one_by_one(store: GraphStore, tmp_path: Any) -> None:
    # when: batches of 3, so later batches repeat accounts of earlier ones
    totals = [(t.accounts, t.links, t.labels) for t in load_records(store, _records(), batch_size=3)]
    # then: running totals per batch, and as if each record was upserted alone, in file order
    assert totals[-1] == (20, 40, 4)
    assert [accounts for accounts, _, _ in totals] == [3, 6, 9, 12, 15, 18, 20]
    loaded = _view(store)
    store.reset()
    for r in _records():
        list(load_records(store, [r], batch_size=1))
    assert _view(store) == loaded
    assert loaded[0][2]["step"] == 14  # a0: records 0, 7, 14; the latest value won


def test_loading_the_same_file_twice_changes_nothing(store: GraphStore) -> None:
    list(load_records(store, _records(), batch_size=4))
    once = _view(store), store.label_history("a0")
    list(load_records(store, _records(), batch_size=4))
    assert (_view(store), store.label_history("a0")) == once


def test_a_bad_record_stops_the_load_after_the_batches_before_it(store: GraphStore) -> None:
    records = _records()[:9] + [{"id": "bad", "links": [{"type": "phone", "id": "x"}]}] + _records()[9:]
    with pytest.raises(InvalidInput):
        list(load_records(store, records, batch_size=3))
    written = {a.id for a in store.get_accounts([r["id"] for r in records[:9]])}
    assert written == {account_from_record(r).id for r in records[:9]}
    assert store.get_account("a2") is not None and store.count_accounts() == 7


def test_a_file_loads_integers_beyond_64_bits_exactly(store: GraphStore) -> None:
    # given a JSON-lines file whose attributes hold integers orjson alone would read as floats
    values = {"big": 2**70 + 1, "negative": -(2**64) - 3, "edge": 2**64, "small": 7, "x": 0.5}
    lines = [json.dumps({"id": "a-big", "created_at": "2026-01-01T00:00:00Z", "attributes": values,
                         "links": [{"type": "card", "id": "c-1"}]}) + "\n", "\n"]
    # when it is loaded as `ringfence load` loads it
    list(load_records(store, read_jsonl(io.StringIO("".join(lines)))))
    # then every value reads back as written, type for type
    got = store.get_account("a-big")
    assert got is not None
    assert got.attributes == values
    assert {k: type(v) for k, v in got.attributes.items()} == {k: type(v) for k, v in values.items()}
