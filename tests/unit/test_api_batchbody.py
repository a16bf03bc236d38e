"""The fast road for batch bodies (`api.jsonbody.fast_batch`, `api.batchbody`) against the usual
one (`core.json_input.parse_json`, then the checked `AccountBatchIn`): it may decline any body, but a body it takes
must come out exactly as the usual road makes it, and it must take none that the usual road
refuses."""

from __future__ import annotations

import gc
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ringfence.api.batchbody import AccountDraft
from ringfence.api.jsonbody import _GcPause, fast_batch
from ringfence.api.schemas import MAX_BATCH_ACCOUNTS, MAX_BATCH_LINKS, MAX_LINKS, AccountBatchIn
from ringfence.core.json_input import parse_json
from ringfence.graph import model as m
from tests.support.clients import TestClient
from tests.support.settings import ADMIN

PAN = "4111111111111111"


def usual(raw: bytes) -> list[AccountDraft] | None:
    try:
        body = AccountBatchIn.model_validate(parse_json(raw))
    except (json.JSONDecodeError, ValidationError):
        return None
    return [AccountDraft(a.id, a.created_at, dict(a.attributes),
                         tuple(m.Link(x.type, x.id, x.seen_at) for x in a.links)) for a in body.accounts]


def assert_same_road(raw: bytes) -> list[AccountDraft] | None:
    # given the usual road's answer
    expected = usual(raw)
    # when the fast road takes the body
    try:
        parsed = parse_json(raw)
    except json.JSONDecodeError:
        assert expected is None
        return None
    prepared = fast_batch(raw, parsed)
    if prepared is None:
        return None
    # then the usual road accepts it too, and makes the same accounts of it
    assert expected is not None, raw
    assert prepared.drafts == expected
    for got, want in zip(prepared.drafts, expected, strict=True):
        assert [type(v) for v in got.attributes.values()] == [type(v) for v in want.attributes.values()]
        assert [x.seen_at and x.seen_at.tzinfo for x in got.links] == \
            [x.seen_at and x.seen_at.tzinfo for x in want.links]
        assert got.created_at is None or got.created_at.tzinfo == want.created_at.tzinfo  # type: ignore[union-attr]
    return prepared.drafts


def account(**fields: Any) -> dict[str, Any]:
    return {"id": "acc-1", "created_at": "2026-11-28T10:00:00.1234567+01:00",
            "links": [{"type": "card", "id": "card:9f2c", "seen_at": "2026-11-28T10:00:00Z"}], **fields}


def at_link_limit() -> dict[str, Any]:
    full, rest = divmod(MAX_BATCH_LINKS, MAX_LINKS)
    return {"accounts": [{"id": f"a{k}", "links": [{"type": "card", "id": f"c{k}"}] * (MAX_LINKS if k < full else rest)}
                         for k in range(full + 1)]}


def test_plain_bodies_take_the_fast_road_and_come_out_the_same() -> None:
    attrs = {"country": "GB", "age": 31, "score": 0.25, "verified": True, "phone": "+44 7700 900123",
             "big": 2**63, "whole": 12.0, "neg": -0.0, "long": 10**15 + 1}
    links = [{"type": t, "id": f"{t}:{k}", "seen_at": s} for k, (t, s) in enumerate([
        ("card", "2026-01-01T08:36:27Z"), ("device", "2026-01-01T08:36:27z"), ("bank_account", None),
        ("card", "2026-01-01t08:36:27.5-05:30"), ("device", "1970-01-01T00:00:00Z"), ("card", "9998-12-31T23:59:59Z"),
    ])] + [{"type": "device", "id": "d-1"}]
    body = {"accounts": [account(attributes=attrs, links=links), account(id="acc-2"), {"id": "acc-3"},
                         {"id": "acc-4", "created_at": None, "attributes": {}, "links": []}]}
    drafts = assert_same_road(orjson.dumps(body))
    assert drafts is not None and [d.id for d in drafts] == ["acc-1", "acc-2", "acc-3", "acc-4"]
    assert drafts[2].created_at is None and drafts[2].links == ()
    # the limits themselves are allowed
    assert assert_same_road(orjson.dumps(at_link_limit())) is not None
    assert assert_same_road(orjson.dumps({"accounts": [{"id": "a"}] * MAX_BATCH_ACCOUNTS})) is not None
    assert assert_same_road(orjson.dumps({"accounts": []})) == []
    # integers beyond 64 bits (orjson alone reads them as floats): both roads keep them exact
    huge = assert_same_road(b'{"accounts": [{"id": "a", "attributes": {"k": 123456789012345678901234567}}]}')
    assert huge is not None and huge[0].attributes["k"] == 123456789012345678901234567
    assert type(huge[0].attributes["k"]) is int
    # digits of other scripts: the scan reads them as the per-field check does
    assert assert_same_road(json.dumps({"accounts": [account(attributes={"k": "\u0664\u0661" * 8})]},
                                       ensure_ascii=False).encode()) is not None


@pytest.mark.parametrize("body", [
    # card numbers, as text, as numbers, in names and ids, with separators
    {"accounts": [account(attributes={"k": PAN})]},
    {"accounts": [account(attributes={"k": "4111 1111 1111 1111"})]},
    {"accounts": [account(attributes={PAN: 1})]},
    {"accounts": [account(attributes={"k": int(PAN)})]},
    {"accounts": [account(attributes={"k": -int(PAN)})]},
    {"accounts": [account(attributes={"k": float(PAN)})]},
    '{"accounts": [{"id": "acc-1", "attributes": {"k": 4.111111111111111e15}}]}',
    {"accounts": [account(id=PAN)]},
    {"accounts": [account(links=[{"type": "card", "id": PAN}])]},
    # an escape that may spell a digit
    '{"accounts": [{"id": "acc-1", "attributes": {"k": "\\u0034111111111111111"}}]}',
    # not JSON
    '{"accounts": [{"id": "acc-1", "attributes": {"k": NaN}}]}',
    '{"accounts": [{"id": "acc-1"}]',
    # unknown or missing fields, wrong shapes
    {"accounts": [account(unknown=1)]},
    {"accounts": [], "more": 1},
    {},
    [],
    {"accounts": {"id": "a"}},
    {"accounts": ["a"]},
    {"accounts": [{"created_at": "2026-11-28T10:00:00Z"}]},
    {"accounts": [account(links=[{"id": "x"}])]},
    {"accounts": [account(links=[{"type": "card"}])]},
    {"accounts": [account(links=[{"type": "card", "id": "x", "note": 1}])]},
    {"accounts": [account(links={"type": "card", "id": "x"})]},
    {"accounts": [account(links=["card:x"])]},
    {"accounts": [account(links=None)]},
    {"accounts": [account(attributes=None)]},
    {"accounts": [account(attributes=[["k", 1]])]},
    # ids, identifier types, timestamps, attribute values
    {"accounts": [account(id="acc 1")]},
    {"accounts": [account(id="acc-1\n")]},
    {"accounts": [account(id="")]},
    {"accounts": [account(id="a" * 129)]},
    {"accounts": [account(id=1)]},
    {"accounts": [account(links=[{"type": "phone", "id": "x"}])]},
    {"accounts": [account(links=[{"type": "Card", "id": "x"}])]},
    {"accounts": [account(links=[{"type": "card", "id": "x y"}])]},
    {"accounts": [account(links=[{"type": "card", "id": "x", "seen_at": "2026-11-28"}])]},
    {"accounts": [account(created_at="2026-11-28T10:00:00")]},
    {"accounts": [account(created_at="2026-13-28T10:00:00Z")]},
    {"accounts": [account(created_at="2026-02-30T10:00:00Z")]},
    {"accounts": [account(created_at="1969-12-31T23:59:59Z")]},
    {"accounts": [account(created_at="9999-01-01T00:00:00Z")]},
    {"accounts": [account(created_at=1700000000)]},
    {"accounts": [account(created_at=["2026-11-28T10:00:00Z"])]},
    {"accounts": [account(attributes={"k": None})]},
    {"accounts": [account(attributes={"k": [1]})]},
    {"accounts": [account(attributes={"k": {"a": 1}})]},
    {"accounts": [account(attributes={"k": "x" * 4097})]},
    {"accounts": [account(attributes={"": 1})]},
    {"accounts": [account(attributes={"k" * 129: 1})]},
    # limits
    {"accounts": [account(attributes={f"k{i}": i for i in range(65)})]},
    {"accounts": [account(links=[{"type": "card", "id": f"c{i}"} for i in range(MAX_LINKS + 1)])]},
    {"accounts": [{"id": "a"}] * (MAX_BATCH_ACCOUNTS + 1)},
    {"accounts": [*at_link_limit()["accounts"], {"id": "z", "links": [{"type": "card", "id": "c"}]}]},
], ids=lambda b: str(b)[:60])
def test_bodies_the_checked_models_must_judge_take_the_usual_road(body: Any) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    assert assert_same_road(raw) is None


# Each part is valid more often than not, so that whole batches often are.
valid_ids = st.from_regex(r"[A-Za-z0-9_.:@-]{1,12}", fullmatch=True)
ids = st.one_of(valid_ids, valid_ids, valid_ids, st.sampled_from([PAN, "a b", "", "a\n", "x" * 129, 7]),
                st.text(max_size=10))
valid_timestamps = st.sampled_from([
    None, "2026-11-28T10:00:00Z", "2026-11-28T10:00:00z", "2026-11-28t10:00:00.5+01:00", "2026-11-28T10:00:00Z\n",
    "2026-02-28T23:59:59.9999999-12:00", "1970-01-01T00:00:00Z",
])
timestamps = st.one_of(valid_timestamps, valid_timestamps, valid_timestamps, st.text(max_size=25), st.sampled_from([
    "2026-13-28T10:00:00Z", "2026-02-29T10:00:00Z", "1969-01-01T00:00:00Z", "2026-11-28T10:00:00", 5, [],
]))
valid_values = st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=20) \
    | st.floats(allow_nan=False, allow_infinity=False)
json_values = st.one_of(valid_values, valid_values, valid_values, st.recursive(
    st.none() | valid_values | st.sampled_from([PAN, "4111-1111-1111-1111", "12 34", float(PAN), int(PAN)]),
    lambda inner: st.lists(inner, max_size=3), max_leaves=5,
))
link_types = st.sampled_from(["card", "device", "bank_account", "card", "device", "bank_account", "phone", 1])
links = st.lists(st.fixed_dictionaries(
    {"type": link_types, "id": ids}, optional={"seen_at": timestamps},
), max_size=3)
accounts = st.fixed_dictionaries(
    {"id": ids},
    optional={
        "created_at": timestamps, "links": links | links | st.just(None),
        "attributes": st.dictionaries(st.text(max_size=20) | st.sampled_from([PAN, "k"]), json_values, max_size=4),
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(batch=st.lists(accounts, max_size=4), ascii_only=st.booleans())
def test_any_batch_comes_out_the_same_or_takes_the_usual_road(batch: list[dict[str, Any]], ascii_only: bool) -> None:
    assert_same_road(json.dumps({"accounts": batch}, ensure_ascii=ascii_only).encode())


def test_a_batch_on_the_fast_road_dates_undated_accounts_like_the_usual_road(client: TestClient) -> None:
    # given an account stored with its own created_at
    stored = {"id": "old", "created_at": "2026-01-01T00:00:00Z", "links": [{"type": "card", "id": "c1"}]}
    assert client.post("/v1/accounts/batch", json={"accounts": [stored]}, headers=ADMIN).status_code == 200
    # when a batch (plain, so on the fast road) sends it again undated, with a new undated account
    undated = {"accounts": [{"id": "old", "links": [{"type": "card", "id": "c1"}, {"type": "device", "id": "d1"}]},
                            {"id": "new", "attributes": {"k": 1}}]}
    assert fast_batch(orjson.dumps(undated), undated) is not None
    response = client.post("/v1/accounts/batch", json=undated, headers=ADMIN)
    # then the known account keeps its stored created_at, which dates its undated links
    assert response.json() == {"accounts": 2, "links": 2}
    old = client.get("/v1/accounts/old", headers=ADMIN).json()
    assert old["created_at"] == "2026-01-01T00:00:00Z"
    assert {x["id"]: x["first_seen"] for x in old["links"]} == {"c1": "2026-01-01T00:00:00Z",
                                                                "d1": "2026-01-01T00:00:00Z"}
    new = client.get("/v1/accounts/new", headers=ADMIN).json()
    assert new["attributes"] == {"k": 1} and new["created_at"] > "2026-01-02"


def test_batch_requests_leave_the_cyclic_collector_as_they_found_it(client: TestClient) -> None:
    # given the collector on
    assert gc.isenabled()
    # when batches are taken and refused
    body = {"accounts": [{"id": "a", "links": [{"type": "card", "id": "c"}]}]}
    assert client.post("/v1/accounts/batch", json=body, headers=ADMIN).status_code == 200
    assert client.post("/v1/accounts/batch", json={"accounts": [{"id": "a b"}]}, headers=ADMIN).status_code == 422
    # then it is on again
    assert gc.isenabled()
    # overlapping pauses resume it once, at the last end, and never turn it on when it was off
    with _GcPause():
        with _GcPause():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with _GcPause():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
