"""Tiny graphs and sweeps for the store contract tests (`test_*_contract.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ringfence.graph.model import AccountIn, Link, PublishedRing, RingIdentifier, SweepResult
from ringfence.graph.store import GraphStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def acct(i: str, minute: float = 0, links: tuple[tuple[str, str], ...] = (), **attrs: object) -> AccountIn:
    return AccountIn(i, at(minute), dict(attrs), tuple(Link(t, x, at(minute)) for t, x in links))  # type: ignore[arg-type]


def snapshot(
    store: GraphStore, chunk: int = 7, labelled_only: bool = False
) -> tuple[list[tuple], list[tuple], dict[str, list[tuple]]]:
    """The whole observable state; small chunks by default so that paging is exercised."""
    accounts = [(a.id, a.created_at, a.attributes, a.label) for c in store.stream_accounts(chunk) for a in c]
    links = [(x.account_id, x.type, x.id, x.first_seen) for c in store.stream_links(chunk) for x in c]
    labels = {
        a[0]: [(e.label, e.source, e.at) for e in store.label_history(a[0])]
        for a in accounts
        if not labelled_only or a[3] is not None
    }
    return accounts, links, labels


def sweep_result(
    sid: str, minute: float, rings: dict[str, list[str]], risks: dict[str, float], events: dict[str, str] | None = None
) -> SweepResult:
    published = [
        PublishedRing(
            rid,
            max(risks[m] for m in members),
            members,
            [RingIdentifier("card", f"k-{rid}", len(members))],
            at(0),
            (events or {}).get(rid, "created"),
        )  # type: ignore[arg-type]
        for rid, members in rings.items()
    ]
    return SweepResult(sid, at(minute - 1), at(minute), "m1", risks, published)
