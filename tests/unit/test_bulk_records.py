"""graph/bulk_records.py reads a file as `loader.account_from_record` reads each record of it:
the same values for what it accepts, the same refusal (of the first bad record) otherwise."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.core.errors import InvalidInput, PanNotAllowed
from ringfence.graph.bulk_records import read_records
from ringfence.graph.loader import account_from_record, read_jsonl
from ringfence.graph.neo4j_queries import ts
from ringfence.graph.neo4j_typed import attribute_properties
from ringfence.graph.stored_json import encode_attributes

PAN = "4111 1111 1111 1111"


def _record(i: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"a{i}", "created_at": "2026-01-02T03:04:05Z", "label": "fraud" if i % 2 else None,
        "attributes": {"country": "GB", "score": 0.25, "n": 3, "vip": True, "none": None},
        "links": [{"type": "card", "id": f"card:{i}", "seen_at": "2026-01-03T00:00:00Z"},
                  {"type": "device", "id": "device:shared"}],
        "truth": {"fraud": False},
    }
    record.update(changes)
    return record


def _lines(records: list[Any]) -> list[bytes]:
    return [json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in records]


def _expected(records: list[Any]) -> tuple[list[Any], list[Any]]:
    """What `ringfence load` reads: `read_jsonl`, then `account_from_record` record by record."""
    rows, links = [], []
    for k, record in enumerate(read_jsonl(io.StringIO(b"".join(_lines(records)).decode()))):
        a = account_from_record(record)
        rows.append((a.id, ts(a.created_at), a.attributes, record["label"] if record.get("label") in ("fraud", "legit")
                     else None))
        links += [(k, x.type, x.id, ts(x.seen_at or a.created_at)) for x in a.links]
    return rows, sorted(links)


def _read(records: list[Any]) -> tuple[list[Any], list[Any]]:
    r = read_records(_lines(records))
    rows = [(i, float(c), orjson.loads(a), x)
            for i, c, a, x in zip(r.ids, r.created.tolist(), r.attributes, r.labels, strict=True)]
    links = zip(r.link_record.tolist(), r.link_type.to_pylist(), r.link_id.to_pylist(), r.link_seen.tolist(),
                strict=True)
    return rows, sorted(links)


def _refusal(read: Any, records: list[Any]) -> tuple[type, str]:
    with pytest.raises((InvalidInput, PanNotAllowed)) as caught:
        read(records)
    return type(caught.value), str(caught.value)


ACCEPTED = [
    _record(1),
    _record(2, created_at="2026-01-02T05:04:05+02:00"),  # other timestamp forms: datetime reads them
    _record(3, created_at="2026-01-02T03:04:05.250Z", links=[{"type": "card", "id": "c", "seen_at": "2026-01-02"}]),
    _record(4, attributes={"nested": {"k": [1, "x"]}, "big": 10**11, "note": 'says "hi",\nthen leaves'}),
    _record(5, truth={"card": PAN}, label=PAN),  # fields the loader does not read are not checked
    _record(6, attributes={"ref": "4111 1111 1111 1112"}),  # 16 digits, not Luhn-valid
    _record(7, attributes={"risk": "0.2560880073938272", "amount": 1e11}),  # a fraction, not a card number
    _record(8, attributes={"city": "Zürich", "x": "tab\there"}),  # non-ASCII text and escapes: the other road
    _record(9, id="dup", links=[]),
    _record(10, id="dup", attributes={"country": "FR"}, links=[{"type": "card", "id": "card:1", "seen_at": False}]),
    _record(11, attributes=None, links=None),
    _record(12, created_at="2026-03-04T05:06:07Z"),  # a link without seen_at is seen at its own record's creation
    _record(13, created_at="2025-12-31T23:59:59Z"),
]

REFUSED = [
    _record(20, attributes={"pan": PAN}),
    _record(21, attributes={PAN: "x"}),
    _record(22, attributes={"pan": "\u0034111111111111111"}),
    _record(23, attributes={"pan": "４１１１１１１１１１１１１１１１"}),
    _record(24, attributes={"n": 4111111111111111}),
    _record(25, attributes={"n": 1e16}),
    _record(26, attributes={"n": {"deep": [4111111111111111]}}),
    _record(27, id="4111111111111111"),
    _record(28, links=[{"type": "card", "id": "4111111111111111"}]),
    _record(29, links=[{"type": "email", "id": "x"}]),
    _record(30, created_at="2023-02-29T00:00:00Z"),
    _record(31, links=[{"type": "card", "id": "c", "seen_at": "2026-01-01T24:00:00Z"}]),
    _record(32, id="has space"),
    _record(35, id="ends\n"),  # Python's `$` matches before a final newline: the id check must not
    _record(36, links=[{"type": "device", "id": "d\n"}]),
    _record(33, attributes={str(k): k for k in range(65)}),
    _record(34, links=[{"type": "card"}]),
    ["not", "an", "object"],
    {"created_at": "2026-01-01T00:00:00Z"},
]


def test_accepted_records_read_as_the_loader_reads_them() -> None:
    assert _read(ACCEPTED) == _expected(ACCEPTED)


@pytest.mark.parametrize("bad", REFUSED, ids=range(len(REFUSED)))
def test_a_refused_record_is_refused_as_the_loader_refuses_it(bad: Any) -> None:
    records = [*ACCEPTED, bad, _record(99)]
    assert _refusal(_read, records) == _refusal(_expected, records)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunks_read_as_one(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # given the file read a few lines at a time (10M accounts are read 100,000 lines at a time), with
    # records the fast road is not sure of and repeats of an account falling in different chunks
    from ringfence.graph import bulk_records

    monkeypatch.setattr(bulk_records, "_CHUNK", chunk)
    # then every value is the loader's, and a bad record in a later chunk is the one refused
    assert _read(ACCEPTED) == _expected(ACCEPTED)
    for bad in (REFUSED[0], REFUSED[10], REFUSED[11]):
        records = [*ACCEPTED, bad, _record(99)]
        assert _refusal(_read, records) == _refusal(_expected, records)


def test_an_id_with_a_final_newline_is_refused_by_the_loader_too() -> None:
    with pytest.raises(InvalidInput):
        _expected([_record(37, id="abc\n")])


def test_the_first_bad_record_of_the_file_is_the_one_reported() -> None:
    # given two bad records whose faults the fast road finds in different passes
    late_timestamp, card_number = REFUSED[10], REFUSED[0]
    for records in ([late_timestamp, card_number], [card_number, late_timestamp]):
        # then each order reports the first
        assert _refusal(_read, records) == _refusal(_expected, [records[0]])


def test_lines_that_are_not_json_are_refused_by_number_and_blank_ones_skipped() -> None:
    with pytest.raises(InvalidInput, match="line 3 is not JSON"):
        read_records([orjson.dumps(_record(1)), b"  \n", b"{nope"])


_TEXT = st.text(alphabet="0123456789 -._/4x\u00a0\u0664", max_size=24)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({"id": st.from_regex(r"[A-Za-z0-9_.:@-]{1,20}", fullmatch=True) | _TEXT,
                                        "created_at": st.sampled_from(["2026-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
                                                                       "2026-01-01T00:00:00+01:00", ""]),
                                        "attributes": st.dictionaries(_TEXT, _TEXT | st.integers() | st.floats(
                                            allow_nan=False, allow_infinity=False), max_size=3)}),
                min_size=1, max_size=4))
def test_both_roads_agree_on_digit_heavy_records(records: list[dict[str, Any]]) -> None:
    records = [r for r in records if r["created_at"]]  # none: "now", which no two reads share
    try:
        expected: Any = _expected(records)
    except (InvalidInput, PanNotAllowed) as exc:
        expected = (type(exc), str(exc))
    try:
        got: Any = _read(records)
    except (InvalidInput, PanNotAllowed) as exc:
        got = (type(exc), str(exc))
    assert got == expected


@pytest.mark.parametrize("slice_", [1, 2, 250_000])
def test_attribute_properties_are_the_same_column_by_column_and_account_by_account(
        monkeypatch: pytest.MonkeyPatch, slice_: int) -> None:
    # given attributes with names that are and are not properties, values of one and of mixed types,
    # read `slice_` accounts at a time (10M accounts' attributes are decoded 250,000 at a time)
    from ringfence.graph import neo4j_bulk

    attributes: list[dict[str, Any]] = [
        {"country": "GB", "tier": 1, "odd key": "x", "big": 2**63 + 5, "nested": {"k": 1}, "vip": True},
        {"country": "FR", "tier": "gold", "score": 0.5, "none": None},
        {"tier": 2.5, "big": 3, "id": "reserved", "late": 1},
        {"late": "one", "score": 2.0},
        {},
    ]
    ids = [f"a{i}" for i in range(len(attributes))]
    encoded = [orjson.dumps(a) for a in attributes]
    monkeypatch.setattr(neo4j_bulk, "_SLICE", slice_)
    # when the properties are built one name at a time, and one account at a time
    by_name = neo4j_bulk._account_columns(ids, encoded)
    monkeypatch.setattr(neo4j_bulk, "_COLUMN_SCANS", 0)
    by_account = neo4j_bulk._account_columns(ids, encoded)
    # then the same columns and late rows, and what attribute_properties says for each account
    assert [(k, v.to_pylist(), t) for k, v, t in by_name[1]] == [(k, v.to_pylist(), t) for k, v, t in by_account[1]]
    assert by_name[2] == by_account[2]
    assert by_name[0].to_pylist() == [encode_attributes(a) for a in attributes]
    columns = {k: v.to_pylist() for k, v, _ in by_name[1]}
    late = {r["id"]: r["props"] for r in by_name[2]}
    assert set(late) == {"a0", "a1", "a2", "a3"}  # tier and late change type
    for j, attrs in enumerate(attributes):
        got = {k: c[j] for k, c in columns.items() if c[j] is not None} | late.get(ids[j], {})
        assert got == {k: v for k, v in attribute_properties(attrs).items() if v is not None}
