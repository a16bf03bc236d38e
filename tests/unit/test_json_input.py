"""`core.json_input.parse_json`: the values the stdlib reads, integers beyond 64 bits included,
and orjson's refusals, with or without a long integer beside them."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.core.json_input import parse_json

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def typed(value: Any) -> Any:
    """`value` with the type of every scalar beside it (1 == 1.0 == True in Python)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value), value)


@settings(max_examples=300, deadline=None)
@given(value=values, as_bytes=st.booleans(), ascii_only=st.booleans())
def test_json_text_reads_back_as_written_type_for_type(value: Any, as_bytes: bool, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert typed(parse_json(text.encode() if as_bytes else text)) == typed(value)


NOT_JSON = ["NaN", "-Infinity", '"\\ud800"', '"\\udc00x"', "1e400", "[1,]", "{'a': 1}", "\ufeff[1]", "", "[1] 2"]


@pytest.mark.parametrize("bad", NOT_JSON)
@pytest.mark.parametrize("long_int", [False, True])
def test_what_orjson_refuses_is_refused_long_integers_or_not(bad: str, long_int: bool) -> None:
    text = f"[12345678901234567890123, {bad}]" if long_int and bad else bad
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text)
    for data in (text, text.encode("utf-8", "surrogatepass")):
        with pytest.raises(json.JSONDecodeError):
            parse_json(data)


def test_invalid_utf8_is_refused_beside_a_long_integer() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_json(b'[12345678901234567890123, "\xff"]')
