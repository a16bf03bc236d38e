"""Investigators' cases on rings: the rules both store backends apply inside their transactions.

A case is keyed by ring id, so it follows the ring wherever lineage keeps the id (grown, shrunk,
split: the part that kept the id). When rings merge, the surviving id keeps its case and gets a
history entry naming what merged in (opening a case if only a merged-in ring had one, with that
ring's assignee); each merged-in ring's case, still readable by its id, records where it went.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ringfence.graph.model import Case, CaseStatus, CaseWrite, LabelIn, PublishedRing, SweepResult

SWEEP_KEY = "sweep"  # the history's key_id for entries a sweep wrote
CASE_SOURCE = "case:"  # label source prefix of a confirmed case's member labels


def case_move(
    current: Case | None, ring_id: str, status: CaseStatus, assignee: str | None, keep_assignee: bool,
    note: str | None, key_id: str, at: datetime,
) -> CaseWrite:
    """An investigator's move; `keep_assignee` keeps the current assignee (none for a new case)."""
    if keep_assignee:
        assignee = current.assignee if current is not None else None
    return CaseWrite(ring_id, status, assignee, note, key_id, at)


def fraud_labels(ring_id: str, members: Sequence[str], note: str | None, at: datetime) -> list[LabelIn]:
    """The `fraud` labels a confirmed case gives every current member."""
    return [LabelIn(m, "fraud", f"{CASE_SOURCE}{ring_id}", note, at) for m in members]


def merged_rings(result: SweepResult) -> list[PublishedRing]:
    """The rings of `result` that others merged into: the few a publication's cases depend on
    (read once, before the flip's transaction, since `result.rings` may be read from disk)."""
    return [ring for ring in result.rings if ring.merged_from]


def merge_involved(merged: Sequence[PublishedRing]) -> list[str]:
    """Ring ids whose cases a publication may touch (survivors and merged-in rings of `merged`)."""
    return sorted({r for ring in merged for r in (ring.id, *ring.merged_from)})


def merge_writes(result: SweepResult, merged: Sequence[PublishedRing], cases: dict[str, Case]) -> list[CaseWrite]:
    """The case entries a publication of `result` appends, given its `merged_rings` and the stored
    cases of `merge_involved`."""
    at, out = result.finished_at, []
    for ring in merged:
        olds = [cases[r] for r in ring.merged_from if r in cases]
        own = cases.get(ring.id)
        if not ring.merged_from or (own is None and not olds):
            continue
        names = ", ".join(_described(r, cases.get(r)) for r in ring.merged_from)
        note = f"sweep {result.sweep_id}: merged in {names}"
        if own is not None:
            out.append(CaseWrite(ring.id, own.status, own.assignee, note, SWEEP_KEY, at))
        else:
            assignee = next((c.assignee for c in olds if c.assignee is not None), None)
            out.append(CaseWrite(ring.id, "open", assignee, note, SWEEP_KEY, at))
        out += [CaseWrite(c.ring_id, c.status, c.assignee, f"sweep {result.sweep_id}: merged into {ring.id}",
                          SWEEP_KEY, at) for c in olds]
    return out


def _described(ring_id: str, case: Case | None) -> str:
    if case is None:
        return f"{ring_id} (no case)"
    return f"{ring_id} (case {case.status}, assignee {case.assignee or 'none'})"
