"""Ring identity for a sharded sweep's finish, a few shards at a time: the rules of
`graph.lineage`, in memory set by the shards, not by the graph.

Greedy matching decomposes exactly. A new group's id and event depend only on the old rings it
shares members with, and on the other groups that share members with those. A set of shards
closed under "shares an old ring" therefore matches alone exactly as it would among every shard:

1. **Join** (`_join_shards`): each shard's members' current rings (`store.rings_of`); shards
   touching a common old ring are joined (union–find over shard numbers; which shard first
   touched each old ring is kept on disk).
2. **Match** each joined set: its drafts, the old rings they touch with their members and
   creation time (`store.ring_lineage`), `graph.lineage.match_rings`. Its rings go to a
   temporary SQLite database, `SpilledRings`: the `RingSource` the publication reads.
3. **Dissolved**: current rings (`store.list_rings` pages) whose id no set kept.

A new id is checked against every current ring and every ring spilled before it, and salted on a
clash as `match_rings` salts. Only two new rings of different sets with the same content id (a
12-hex-digit hash: a chance of about n²/2⁴⁹ for n new rings) could be salted in another order
than in the single-process sweep.

The finishing worker holds one joined set's drafts and old rings (usually one shard's) and an
integer per shard; rings, members and old ring ids are on disk (at 10M accounts the in-memory
matching held 1.4 GB, growing with the graph). A set is as large as the shards its old rings tie
together: when old rings straddle shards (the graph split since the last sweep, or the shard
packing moved components), their shards match together, and in the worst case every shard is one
set, which holds what matching every ring at once held. The sweep's stats record the sets
(`lineage_sets`: their count and the largest's shards).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ringfence.graph.lineage import Assignment, match_rings
from ringfence.graph.model import PublishedRing, RingIdentifier, RingLineage
from ringfence.graph.store import GraphStore
from ringfence.services.publish import RingDraft

_SCHEMA = """
CREATE TABLE olds (old_id TEXT PRIMARY KEY, shard INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX olds_by_shard ON olds(shard);
CREATE TABLE rings (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE members (account_id TEXT PRIMARY KEY, ring_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE kept (old_id TEXT PRIMARY KEY) WITHOUT ROWID;
"""
_IN = "(SELECT value FROM json_each(?))"  # a list parameter, as one JSON text
_PAGE = 1000


class SpilledRings:
    """A sweep's rings in SQLite's private temporary database (pages past its cache go to a file
    in the temporary directory, which SQLite deletes when the connection closes, with the
    object), read in id order."""

    def __init__(self) -> None:
        # Read by the thread that publishes, which may not be the one that built it.
        self.db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self.db.executescript(_SCHEMA)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[PublishedRing]:
        for ring_id, body in self.db.execute("SELECT id, body FROM rings ORDER BY id"):
            yield _ring_from(ring_id, body)

    def ring_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        return dict(self.db.execute(f"SELECT account_id, ring_id FROM members WHERE account_id IN {_IN}",
                                    (json.dumps(list(account_ids)),)))

    def known(self, ring_ids: Sequence[str]) -> set[str]:
        """Those of `ring_ids` already given to a ring."""
        return {r for (r,) in self.db.execute(f"SELECT id FROM rings WHERE id IN {_IN}", (json.dumps(list(ring_ids)),))}

    def add(self, rings: Sequence[PublishedRing], kept: Sequence[str] = ()) -> None:
        """`rings`, and `kept`: the current rings' ids they took, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO rings VALUES (?, ?)", ((r.id, _ring_body(r)) for r in rings))
            self.db.executemany("INSERT INTO members VALUES (?, ?)", ((m, r.id) for r in rings for m in r.members))
            self.db.executemany("INSERT INTO kept VALUES (?)", ((r,) for r in kept))
        self._count += len(rings)


def _ring_body(ring: PublishedRing) -> str:
    return json.dumps([ring.risk, ring.members, [[i.type, i.id, i.accounts] for i in ring.identifiers],
                       ring.created_at.isoformat(), ring.event, ring.features, ring.merged_from], separators=(",", ":"))


def _ring_from(ring_id: str, body: str) -> PublishedRing:
    risk, members, identifiers, created, event, features, merged_from = json.loads(body)
    return PublishedRing(ring_id, risk, members, [RingIdentifier(t, i, n) for t, i, n in identifiers],
                         datetime.fromisoformat(created), event, features, merged_from)


@dataclass
class StagedLineage:
    """What matching the staged shards gives the publication."""

    rings: SpilledRings
    dissolved: list[tuple[str, int]]
    events: dict[str, int] = field(default_factory=dict)
    high_risk: int = 0
    sets: int = 0  # joined sets of shards matched
    largest_set: int = 0  # shards in the largest


def match_staged(store: GraphStore, n_shards: int, drafts_of: Callable[[int], list[RingDraft]],
                 started: datetime) -> StagedLineage:
    """Ring ids and events for the drafts of shards 0..n_shards-1 (`drafts_of(k)`, read twice per
    shard) against the current sweep's rings; a new ring is created at `started`."""
    out = StagedLineage(SpilledRings(), [])
    sets = _join_shards(store, out.rings.db, n_shards, drafts_of)
    out.sets, out.largest_set = len(sets), max(map(len, sets), default=0)
    for shards in sets:
        _match_set(store, out, shards, drafts_of, started)
    out.dissolved = _dissolved(store, out.rings.db)
    if out.dissolved:
        out.events["dissolved"] = len(out.dissolved)
    return out


def _join_shards(store: GraphStore, db: sqlite3.Connection, n_shards: int,
                 drafts_of: Callable[[int], list[RingDraft]]) -> list[list[int]]:
    """The shards in sets closed under touching a common old ring, each set ascending, the sets
    by their first shard."""
    parent = list(range(n_shards))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for k in range(n_shards):
        members = [m for d in drafts_of(k) for m in d.member_ids]
        olds = sorted(set(store.rings_of(members).values()))
        if not olds:
            continue
        for (first,) in db.execute(f"SELECT DISTINCT shard FROM olds WHERE old_id IN {_IN}", (json.dumps(olds),)):
            a, b = root(k), root(first)
            parent[max(a, b)] = min(a, b)
        db.executemany("INSERT OR IGNORE INTO olds VALUES (?, ?)", ((r, k) for r in olds))
    sets: dict[int, list[int]] = {}
    for k in range(n_shards):
        sets.setdefault(root(k), []).append(k)
    return [sets[r] for r in sorted(sets)]


def _match_set(store: GraphStore, out: StagedLineage, shards: list[int],
               drafts_of: Callable[[int], list[RingDraft]], started: datetime) -> None:
    drafts = sorted((d for k in shards for d in drafts_of(k)), key=lambda d: d.member_ids[0])
    if not drafts:
        return
    db = out.rings.db
    touched = [r for (r,) in db.execute(f"SELECT old_id FROM olds WHERE shard IN {_IN}", (json.dumps(shards),))]
    olds = store.ring_lineage(touched)
    previous = {r: lineage.members for r, lineage in olds.items()}
    groups = [d.member_ids for d in drafts]
    reserved: set[str] = set()
    while True:  # new ids in use outside this set are reserved, and the set matched again
        assignments, _ = match_rings(groups, previous, reserved)
        clash = _in_use(store, out.rings, [a.ring_id for a in assignments if a.previous_id is None], previous)
        if not clash - reserved:
            break
        reserved |= clash
    rings = [_published(out, drafts[a.index], a, olds, started) for a in assignments]
    out.rings.add(rings, [a.previous_id for a in assignments if a.previous_id is not None])


def _in_use(store: GraphStore, rings: SpilledRings, ids: list[str], previous: dict[str, Any]) -> set[str]:
    """Those of `ids` that are rings of the current sweep outside `previous`, or spilled already."""
    outside = [r for r in ids if r not in previous]
    return set(store.ring_lineage(outside)) | rings.known(outside) if outside else set()


def _published(out: StagedLineage, d: RingDraft, a: Assignment, olds: dict[str, RingLineage],
               started: datetime) -> PublishedRing:
    """The ring of draft `d` as assigned (counted into `out`'s events)."""
    created = olds[a.previous_id].created_at if a.previous_id is not None else started
    risk = round(d.risk, 6)
    out.events[a.event] = out.events.get(a.event, 0) + 1
    out.high_risk += risk >= 0.5
    return PublishedRing(a.ring_id, risk, d.member_ids, d.identifiers, created, a.event, dict(d.features),
                         list(a.merged_from))


def _dissolved(store: GraphStore, db: sqlite3.Connection) -> list[tuple[str, int]]:
    """Current rings whose id no new ring kept, as (id, last size), by id."""
    out: list[tuple[str, int]] = []
    cursor: str | None = None
    while True:
        page = store.list_rings(None, cursor, _PAGE)
        ids = [r.id for r in page.data]
        kept = {r for (r,) in db.execute(f"SELECT old_id FROM kept WHERE old_id IN {_IN}", (json.dumps(ids),))}
        out += [(r.id, r.size) for r in page.data if r.id not in kept]
        if page.next_cursor is None:
            return sorted(out)
        cursor = page.next_cursor
