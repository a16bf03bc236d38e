"""The card-number policy (core/cards.py): what it reads as a card number, and the fast raw-bytes
pre-check never saying "no" where the policy would say "yes"."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from ringfence.core.cards import contains_pan, holds_pan, may_hold_pan, number_is_pan, redact
from tests.support.builders import pans

TEXT_AROUND = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)


def test_what_is_and_is_not_a_card_number() -> None:
    for text in ("4111111111111111", "４１１１１１１１１１１１１１１１", "4111.1111.1111.1111", "4111_1111/1111 1111",
                 "4111\t1111\u00a01111\u20131111", "4111  1111  1111  1111", "𝟒𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏", "4111111111111111.5"):
        assert contains_pan(text) and redact(f"a {text} b") == "a [REDACTED-PAN] b", text
    for text in ("0.2560880073938272", "2026-11-28T10:00:00Z", "tok-4111", "4111111111111112", "1.2.3"):
        assert not contains_pan(text), text
    assert number_is_pan(4111111111111111) and number_is_pan(4111111111111111.0)
    assert number_is_pan(4780652624530.5) and number_is_pan(4.5e15)  # a rounded double may be one
    assert not number_is_pan(0.25) and not number_is_pan(123456.5) and not number_is_pan(True)


def test_deep_values_do_not_exhaust_the_stack() -> None:
    value: object = "4111111111111111"
    for _ in range(100_000):
        value = [value]
    assert holds_pan(value)


@given(pan=pans(), before=TEXT_AROUND, after=TEXT_AROUND, ascii_only=st.booleans(), as_key=st.booleans())
def test_the_raw_pre_check_never_misses_what_the_policy_finds(
    pan: tuple[str, str], before: str, after: str, ascii_only: bool, as_key: bool
) -> None:
    text = before + pan[0] + after
    assume(contains_pan(text))  # digits around it may make a longer run that is no card number
    value = {text: 1} if as_key else {"k": [text]}
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert holds_pan(json.loads(raw))
    assert may_hold_pan(raw)
