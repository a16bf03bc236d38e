"""Accounts for tests: domain accounts (`account_in`), request bodies (`account_json`), small worlds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ringfence.core.clock import utcnow
from ringfence.graph.model import AccountIn, Link, PublishedRing, RingIdentifier, SweepResult

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
    return SweepResult(sid, at(minute - 1), at(minute), "m1", risks, published, list(dissolved or []))
