"""Stable ring identity across sweeps.

Each new group is matched to the previous sweep's rings by member overlap. With `o` the
number of shared members:

- `g` *continues* old ring `r` when Jaccard(g, r) ≥ 0.5 or `g` holds most of `r`'s members
  (o > |r| / 2);
- `g` is a *part* of `r` when it is mostly made of `r`'s members (o ≥ 2 and o > |g| / 2).

Ids are handed out greedily by overlap (largest first, ties by Jaccard, then ids), each old id
to at most one new group and each group at most one old id. Then per group:

- merged: it continues 2+ old rings; it keeps the id of the one it shares most members with
  (the largest), the others dissolve into it (reported as dissolved, and named in the
  assignment's `merged_from`, so that publication can carry their cases over);
- split: the old ring it took its id from continues in / is part of 2+ groups (the part
  sharing most members keeps the id; the other parts get new ids, also with event "split");
- grew / shrank / unchanged: one old ring continues, by member count (a same-size change of
  members counts as "grew": it gained someone);
- created: no old ring behind it;
- dissolved: an old ring whose id nobody took.

A new id is `"r-" + sha256(sorted member ids)[:12]` of the members at creation (salted on the
rare collision with an id in use: a previous ring's, one given out before it, or one of
`reserved`), so the same data gives the same ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from ringfence.graph.detection import content_id
from ringfence.graph.model import RingEvent

JACCARD = 0.5


@dataclass(frozen=True)
class Assignment:
    index: int  # position of the group in the input
    ring_id: str
    event: RingEvent
    previous_id: str | None  # the old ring whose id it kept, if any
    merged_from: tuple[str, ...] = ()  # with "merged": the other old rings that dissolved into it, sorted


def match_rings(
    groups: list[list[str]], previous: dict[str, list[str]], reserved: Collection[str] = (),
) -> tuple[list[Assignment], list[tuple[str, int]]]:
    """Assign ids and events to `groups` (each a list of member ids) given the previous
    sweep's rings (id -> members) and ids no new ring may take (`reserved`: when `previous` is
    a part of the previous sweep, the ids of the rest). Returns assignments in input order and
    the dissolved old rings as (id, last size), sorted by id."""
    old_of: dict[str, str] = {}
    for rid, members in previous.items():
        for a in members:
            old_of[a] = rid
    old_size = {rid: len(ms) for rid, ms in previous.items()}
    continues: dict[int, list[str]] = {}
    descendants: dict[str, set[int]] = {}
    pairs: list[tuple[int, float, str, int]] = []
    for gi, members in enumerate(groups):
        overlap = Counter(old_of[a] for a in members if a in old_of)
        for rid, o in overlap.items():
            jac = o / (len(members) + old_size[rid] - o)
            cont = jac >= JACCARD or 2 * o > old_size[rid]
            part = o >= 2 and 2 * o > len(members)
            if cont:
                continues.setdefault(gi, []).append(rid)
                pairs.append((-o, -jac, rid, gi))
            if cont or part:
                descendants.setdefault(rid, set()).add(gi)
    pairs.sort()
    taken: dict[int, str] = {}
    used_old: set[str] = set()
    for _, _, rid, gi in pairs:
        if gi in taken or rid in used_old:
            continue
        taken[gi] = rid
        used_old.add(rid)

    in_use = set(previous) | used_old | set(reserved)
    out: list[Assignment] = []
    for gi, members in enumerate(groups):
        kept = taken.get(gi)
        if kept is not None:
            rid = kept
            if len(continues.get(gi, [])) >= 2:
                event: RingEvent = "merged"
            elif len(descendants.get(rid, ())) >= 2:
                event = "split"
            else:
                old = set(previous[rid])
                new = set(members)
                if new == old:
                    event = "unchanged"
                elif len(new) > len(old) or (len(new) == len(old) and new - old):
                    event = "grew"
                else:
                    event = "shrank"
            merged_from = tuple(sorted(r for r in continues.get(gi, []) if r != rid and r not in used_old))
            out.append(Assignment(gi, rid, event, rid, merged_from if event == "merged" else ()))
            continue
        split_from = any(gi in descendants.get(r, ()) and len(descendants[r]) >= 2 for r in _olds(members, old_of))
        new_id = content_id(members)
        k = 0
        while new_id in in_use:
            k += 1
            new_id = content_id(members, salt=f"#{k}")
        in_use.add(new_id)
        out.append(Assignment(gi, new_id, "split" if split_from else "created", None))
    dissolved = sorted((rid, old_size[rid]) for rid in previous if rid not in used_old)
    return out, dissolved


def _olds(members: list[str], old_of: dict[str, str]) -> list[str]:
    return sorted({old_of[a] for a in members if a in old_of})
