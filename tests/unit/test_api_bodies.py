"""The raw-bytes road for account bodies (`api.jsonbody.validate_unchecked`) against the usual one
(orjson, then the checked models): it may decline any body, but a body it takes must come out
exactly as the usual road makes it, and it must take none that the usual road refuses. Batch
bodies have their own road: tests/test_api_batchbody.py."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ringfence.api.jsonbody import validate_unchecked
from ringfence.api.schemas import UNCHECKED_TWINS, AccountIn
from ringfence.core.json_input import parse_json

PAN = "4111111111111111"


def usual(model: type[BaseModel], raw: bytes) -> BaseModel | None:
    try:
        return model.model_validate(parse_json(raw))
    except (json.JSONDecodeError, ValidationError):
        return None


def assert_same_road(model: type[BaseModel], raw: bytes) -> BaseModel | None:
    # given the usual road's answer
    expected = usual(model, raw)
    # when the raw-bytes road takes the body
    got = validate_unchecked(UNCHECKED_TWINS[model], raw)
    # then it took one the usual road accepts, and made the same thing of it
    if got is not None:
        assert expected is not None, raw
        assert isinstance(got, model)
        assert got.model_dump() == expected.model_dump()
        assert [type(v) for v in got.model_dump().values()] == [type(v) for v in expected.model_dump().values()]
    return got


def account(**fields: Any) -> dict[str, Any]:
    return {"id": "acc-1", "created_at": "2026-11-28T10:00:00.1234567+01:00",
            "links": [{"type": "card", "id": "card:9f2c", "seen_at": "2026-11-28T10:00:00Z"}], **fields}


def test_plain_bodies_take_the_raw_road_and_come_out_the_same() -> None:
    attrs = {"country": "GB", "age": 31, "score": 0.25, "verified": True, "phone": "+44 7700 900123",
             "big": 2**63, "whole": 12.0, "neg": -0.0}
    assert assert_same_road(AccountIn, orjson.dumps(account(attributes=attrs))) is not None
    # integers beyond 64 bits, which both roads keep exact
    huge = {"k": 123456789012345678901234567, "n": -(2**64) - 1}
    assert assert_same_road(AccountIn, json.dumps(account(attributes=huge)).encode()) is not None
    # digits of other scripts: the scan reads them as the per-field check does
    assert_same_road(AccountIn, json.dumps(account(attributes={"k": "\u0664\u0661" * 8}), ensure_ascii=False).encode())


@pytest.mark.parametrize("raw", [
    # card numbers, as text, as numbers, in names and ids, with separators
    json.dumps(account(attributes={"k": PAN})),
    json.dumps(account(attributes={"k": "4111 1111 1111 1111"})),
    json.dumps(account(attributes={PAN: 1})),
    json.dumps(account(attributes={"k": int(PAN)})),
    json.dumps(account(attributes={"k": float(PAN)})),
    '{"id": "acc-1", "attributes": {"k": 4.111111111111111e15}}',
    json.dumps(account(id=PAN)),
    # an escape that may spell a digit
    '{"id": "acc-1", "attributes": {"k": "\\u0034111111111111111"}}',
    # what orjson refuses: not JSON
    '{"id": "acc-1", "attributes": {"k": NaN}}',
    '{"id": "acc-1", "attributes": {"k": Infinity}}',
    '{"id": "acc-1", "attributes": {"k": 1e400}}',
    '{"id": "acc-1", "attributes": {"k": "a\\ud800"}}',
    # plain invalid bodies
    '{"id": "acc-1", "unknown": 1}',
    '{"id": "acc 1"}',
    '{"id": "acc-1", "created_at": "2026-11-28T10:00:00"}',
    '{"id": "acc-1", "attributes": {"k": [1]}}',
])
def test_bodies_the_checked_models_must_judge_take_the_usual_road(raw: str) -> None:
    assert assert_same_road(AccountIn, raw.encode()) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([PAN, "4111-1111-1111-1111", "12 34"])
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3), max_leaves=5,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    attributes=st.dictionaries(st.text(max_size=20) | st.sampled_from([PAN, "k"]), json_values, max_size=5),
    account_id=st.sampled_from(["acc-1", PAN, "a b", ""]) | st.text(max_size=10),
    created_at=st.sampled_from(["2026-11-28T10:00:00Z", "2026-13-28T10:00:00Z", "1969-01-01T00:00:00Z", 5]),
    ascii_only=st.booleans(),
)
def test_any_body_comes_out_the_same_or_takes_the_usual_road(
    attributes: dict[str, Any], account_id: str, created_at: Any, ascii_only: bool
) -> None:
    body = {"id": account_id, "created_at": created_at, "attributes": attributes}
    assert_same_road(AccountIn, json.dumps(body, ensure_ascii=ascii_only).encode())
