"""The card-number policy: what counts as a raw card number (PAN), decided in this one module.

A PAN is 13–19 digits that pass the Luhn check, anywhere in a string, written in any Unicode
decimal digits (full-width, Arabic-Indic, Devanagari, mathematical bold, ...) and separated by
up to three separators between two digits: spaces of any kind (tabs, no-break spaces, double
spaces, zero-width characters), dashes of any kind (`-`, en and em dashes), `.`, `_` and `/`, as a PAN scanner reads
them. A run split by dots is also read part by part, so the integer part of `4780652624530.5`
counts. A decimal fraction below ten (`0.2560880073938272`, a risk) is not a card number.

JSON numbers count too: an integer whose digits are a PAN, a fractional number whose integer
part or digits are one, and a float of 10**15 or more, whose last digits a double has already
rounded away, so that it may carry a PAN's leading digits and nobody can tell.

ringfence refuses them everywhere (ids, attribute names and values, label notes and sources,
query strings) and never echoes, logs or stores one: every check in the product calls this module.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

PAN_MESSAGE = "A raw card number was found in the request; send a token or fingerprint instead."
REDACTED = "<redacted>"

# After `_normalise`, digits are ASCII and every separator is a space.
_PAN_CANDIDATE = re.compile(r"(?<!\d)\d(?: {0,3}\d){12,18}(?!\d)")
_SMALL_FRACTION = re.compile(r"^[+-]?\d?\.\d+(?:[eE][+-]?\d+)?$")
# Numbers below 10**12 have at most 12 digits: never a card number.
_SMALLEST = 10**12
# From here on a double holds fewer digits than its integer part has: it may be a rounded PAN.
_ROUNDED = 1e15
_LARGEST = 1e20
_ASCII_SEPARATORS = " \t\n\r\v\f-._/"
# Raw JSON bytes: ASCII digits to 1, all else to 0.
_RAW_DIGITS = bytes(int(chr(b) in "0123456789") for b in range(256))


@lru_cache(maxsize=4096)
def _normal_char(ch: str) -> str:
    """One character as the policy reads it: a digit, a space (a separator) or itself."""
    digit = unicodedata.digit(ch, None)
    if digit is not None:
        return str(digit)
    if ch in _ASCII_SEPARATORS or ch.isspace() or unicodedata.category(ch) in ("Zs", "Pd", "Cf"):
        return " "
    return ch


_ASCII_TABLE = str.maketrans(dict.fromkeys(_ASCII_SEPARATORS, " "))


def _normalise(text: str) -> str:
    """`text` with the same length, every digit ASCII and every separator a space."""
    if text.isascii():
        return text.translate(_ASCII_TABLE)
    return "".join(map(_normal_char, text))


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a string of digits in any script (separators are ignored)."""
    total = 0
    for i, ch in enumerate(reversed([c for c in _normalise(digits) if c.isdigit()])):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_pan_run(original: str, normal: str) -> bool:
    """Whether a candidate run (its original text and normal form) is a card number: all of it,
    or one of its dot-separated parts."""
    if luhn_ok(normal):
        return True
    if "." not in original:
        return False
    parts = [re.sub(r"\D", "", _normalise(p)) for p in original.split(".")]
    return any(13 <= len(p) <= 19 and luhn_ok(p) for p in parts)


def _pan_spans(text: str) -> list[tuple[int, int]]:
    if len(text) < 13:
        return []
    normal = _normalise(text)
    if _PAN_CANDIDATE.search(normal) is None:  # the common case, kept cheap
        return []
    if _SMALL_FRACTION.match(text.strip()):
        return []
    return [m.span() for m in _PAN_CANDIDATE.finditer(normal) if _is_pan_run(text[m.start():m.end()], m.group())]


def contains_pan(text: str) -> bool:
    """True if `text` holds a card number as this module defines it."""
    return bool(_pan_spans(text))


def number_is_pan(value: int | float) -> bool:
    """True if a JSON number may be a card number: its integer digits, its digits or its rounding."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) >= _SMALLEST and contains_pan(str(abs(value)))
    if not math.isfinite(value) or abs(value) < _SMALLEST or abs(value) >= _LARGEST:
        return False
    if abs(value) >= _ROUNDED:
        return True
    return contains_pan(str(int(abs(value)))) or contains_pan(repr(abs(value)))


def holds_pan(value: Any) -> bool:
    """True if any string, dict key or number inside the JSON-like `value` is a card number.

    Iterative: a deeply nested value must not exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if contains_pan(item):
                return True
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if number_is_pan(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def any_pan(values: Iterable[object]) -> bool:
    return any(holds_pan(v) for v in values)


def may_hold_pan(raw: bytes) -> bool:
    """False if no string in the JSON text `raw` can hold a card number, and no number written
    as digits (a fast pre-check on request bytes; True means "look closer", not "refuse").
    Exponent forms (`1e16`) are not seen here: callers check every number value themselves."""
    if b"\\" in raw:  # an escape may spell a digit or a separator (`\t`, `\/`, `\u00a0`)
        return True
    if not raw.isascii():  # Unicode digits and separators: the policy reads the text itself
        return contains_pan(raw.decode("utf-8"))
    # Strings and numbers stand in the text as they are: the policy reads the text itself.
    return raw.translate(_RAW_DIGITS).count(1) >= 13 and contains_pan(raw.decode("ascii"))


def redact_location(loc: Sequence[object]) -> list[object]:
    """An error location with every part that holds a card number replaced by `REDACTED`."""
    return [REDACTED if isinstance(p, str) and contains_pan(p) else p for p in loc]


def redact_names(names: Iterable[str], limit: int = 10) -> list[str]:
    """Names fit to echo in an error's details: card numbers redacted, at most `limit`, each short."""
    return [REDACTED if contains_pan(n) else n[:64] for n in list(names)[:limit]]


def query_holds_pan(name: str, value: str) -> bool:
    """True if a query parameter's name or value is a card number."""
    return contains_pan(name) or contains_pan(value)


def redact(text: str) -> str:
    """`text` with every card number replaced by `[REDACTED-PAN]` (for log lines)."""
    spans = _pan_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + "[REDACTED-PAN]" + text[end:]
    return text


assert sys.maxunicode == 0x10FFFF  # one code point per character: `_normalise` keeps offsets
