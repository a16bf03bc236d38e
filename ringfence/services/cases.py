"""Investigators' cases on rings (contract 1.1): open or move a ring's case, read it back.

The store keeps a case by ring id and applies it atomically (with the member labels of a
confirmed case); sweeps carry cases across merges (`graph.cases`).
"""

from __future__ import annotations

from ringfence.core.errors import found
from ringfence.graph.model import Case, CaseStatus
from ringfence.graph.store import CaseStore


def move_case(
    store: CaseStore, ring_id: str, status: CaseStatus, key_id: str, *, note: str | None = None,
    assignee: str | None = None, assignee_given: bool = True, label_members: bool = False,
) -> Case:
    """Open or move the case of a current ring (`NotFound` if it is not current) as `key_id`;
    `assignee_given=False` keeps the stored assignee. With `confirmed_fraud` and `label_members`,
    the ring's current members are labelled fraud in the same transaction."""
    return store.put_case(ring_id, status, assignee, note, key_id, label_members=label_members,
                          keep_assignee=not assignee_given)


def read_case(store: CaseStore, ring_id: str) -> Case:
    """The ring's case, current ring or not; `NotFound` if nobody opened one."""
    return found(store.get_case(ring_id), f"no case for ring {ring_id}")
