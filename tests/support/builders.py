"""Accounts for tests: domain accounts (`account_in`), request bodies (`account_json`), small
worlds; and card numbers written in every digit set and separator (`pans`, hypothesis)."""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from ringfence.core.clock import utcnow
from ringfence.graph.model import AccountIn, Link, PublishedRing, RingIdentifier, RingList, SweepResult

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LinkSpec = tuple[str, str]


def own_cards(account_id: str, n: int = 2) -> tuple[LinkSpec, ...]:
    """`n` cards nobody else holds."""
    return tuple(("card", f"c_{account_id}_{i}") for i in range(n))


def account_in(account_id: str, *links: LinkSpec, at: datetime | None = None, seen: bool = False,
               **attributes: Any) -> AccountIn:
    """A domain account created `at` (default: now); with `seen`, its links are dated then too."""
    created = at or utcnow()
    return AccountIn(account_id, created, attributes,
                     tuple(Link(t, i, created if seen else None) for t, i in links))  # type: ignore[arg-type]


def account_json(account_id: str, *links: LinkSpec, **attributes: Any) -> dict[str, Any]:
    """The body of `POST /v1/accounts` for such an account."""
    return {"id": account_id, "attributes": attributes, "links": [{"type": t, "id": i} for t, i in links]}


def ring_world(rings: int, size: int, singles: int, prefix: str = "acc") -> list[AccountIn]:
    """`rings` groups of `size` accounts sharing a device, plus `singles` unlinked accounts."""
    t0 = utcnow() - timedelta(days=30)
    out = [account_in(f"{prefix}_r{r}_{m}", ("device", f"dev_{prefix}_r{r}"), ("card", f"card_{prefix}_r{r}_{m}"),
                      at=t0, country="GB")
           for r in range(rings) for m in range(size)]
    out += [account_in(f"{prefix}_s{s}", ("card", f"card_{prefix}_s{s}"), at=t0, country="FR") for s in range(singles)]
    return out


def at(minutes: float) -> datetime:
    """`T0` plus `minutes`: the time axis of hand-made graphs."""
    return T0 + timedelta(minutes=minutes)


def acct(account_id: str, minute: float = 0, links: tuple[LinkSpec, ...] = (), **attributes: Any) -> AccountIn:
    """`account_in` on the `at` axis with its links dated at creation: the contract tests' shorthand."""
    return account_in(account_id, *links, at=at(minute), seen=True, **attributes)


def sweep_result(
    sid: str, minute: float, rings: dict[str, list[str]], risks: dict[str, float], events: dict[str, str] | None = None,
    merged: dict[str, list[str]] | None = None, dissolved: list[tuple[str, int]] | None = None,
) -> SweepResult:
    """A sweep publishing `rings` (each tied by one card, risk = its riskiest member's) and `risks`;
    `merged`: ring id -> the previous ring ids that dissolved into it (event "merged")."""
    merged = merged or {}
    published = [
        PublishedRing(rid, max(risks[m] for m in members), members,
                      [RingIdentifier("card", f"k-{rid}", len(members))], at(0),
                      "merged" if rid in merged else (events or {}).get(rid, "created"),  # type: ignore[arg-type]
                      merged_from=merged.get(rid, []))
        for rid, members in rings.items()
    ]
    return SweepResult(sid, at(minute - 1), at(minute), "m1", risks, RingList(published), list(dissolved or []))


@cache
def digit_zeros() -> list[str]:
    """The zero of every Unicode decimal digit set (ASCII, full-width, Arabic-Indic, Devanagari,
    ..., mathematical bold and monospace): each set is ten consecutive code points."""
    return [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.decimal(chr(c), None) == 0]


SEPARATORS = ["", " ", "-", ".", "_", "/", "\t", "\u00a0", "\u2013", "  ", "\u202f", " - "]


def luhn_complete(body: list[int]) -> list[int]:
    total = 0
    for i, d in enumerate(reversed(body)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return [*body, (10 - total % 10) % 10]


@st.composite
def pans(draw: st.DrawFn) -> tuple[str, str]:
    """(the card number written out, its ASCII digits)."""
    length = draw(st.integers(13, 19))
    digits = luhn_complete([draw(st.integers(1, 9)), *draw(st.lists(st.integers(0, 9), min_size=length - 2,
                                                                     max_size=length - 2))])
    zero = ord(draw(st.sampled_from(digit_zeros())))
    sep = draw(st.sampled_from(SEPARATORS))
    group = draw(st.sampled_from([4, 3, 5, 19]))
    written = "".join((sep if i and i % group == 0 else "") + chr(zero + d) for i, d in enumerate(digits))
    return written, "".join(map(str, digits))
