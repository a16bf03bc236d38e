"""From detected rings and account risks to the `SweepResult` a store publishes atomically:
the single-process sweep's (`services.sweeps`), which holds every ring.

Ring identity is matched on member ids only (`graph.lineage`), and `store.publish_sweep` writes
everything under the new sweep id and flips the current pointer last. The sharded sweep's
finishing step (`services.shards`) matches by the same rules a few shards at a time
(`services.staged_lineage`, tested equal to `build_result`) and publishes the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ringfence.core.clock import utcnow
from ringfence.graph.lineage import match_rings
from ringfence.graph.model import PublishedRing, RingIdentifier, RingList, RiskSource, SweepResult
from ringfence.graph.store import GraphStore


@dataclass
class RingDraft:
    """A detected group before identity matching: members (ascending ids), tying identifiers,
    features (with `member_score_mean`) and its risk."""

    member_ids: list[str]
    identifiers: list[RingIdentifier]
    features: dict[str, float]
    risk: float


def _created_at_of_current(store: GraphStore) -> dict[str, datetime]:
    """created_at of every ring of the current sweep, walking `list_rings` pages."""
    out: dict[str, datetime] = {}
    cursor: str | None = None
    while True:
        page = store.list_rings(None, cursor, 1000)
        for r in page.data:
            out[r.id] = r.created_at
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def build_result(
    store: GraphStore, drafts: list[RingDraft], account_risks: RiskSource, *, sweep_id: str,
    started: datetime, model_version: str, stats: dict[str, Any],
) -> SweepResult:
    """The sweep's result: `drafts` matched against the current sweep's rings (in order of their
    first member, whatever order they come in), with events counted into `stats`."""
    drafts = sorted(drafts, key=lambda d: d.member_ids[0])
    previous = store.current_rings()
    assignments, dissolved = match_rings([d.member_ids for d in drafts], previous)
    kept_created = _created_at_of_current(store) if previous else {}
    rings = RingList()
    for a in assignments:
        d = drafts[a.index]
        created = kept_created.get(a.previous_id, started) if a.previous_id else started
        rings.append(PublishedRing(a.ring_id, round(d.risk, 6), d.member_ids, d.identifiers, created, a.event,
                                   dict(d.features), list(a.merged_from)))
    rings.sort(key=lambda r: r.id)
    events: dict[str, int] = {}
    for ring in rings:
        events[ring.event] = events.get(ring.event, 0) + 1
    if dissolved:
        events["dissolved"] = len(dissolved)
    stats = {**stats, "rings": len(rings), "events": events, "high_risk_rings": sum(r.risk >= 0.5 for r in rings)}
    return SweepResult(sweep_id=sweep_id, started_at=started, finished_at=utcnow(), model_version=model_version,
                       account_risks=account_risks, rings=rings, dissolved=dissolved, stats=stats)
