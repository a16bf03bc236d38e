"""Named Cypher queries and the pure, driver-free helpers of the Neo4j store.

Every query lives in the repository's top-level `cypher/` directory, one per file, shipped as
the package data of `ringfence.cypher` and loaded here by name through `importlib.resources`.
Queries take parameters only: nothing is ever formatted into them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib.resources import files
from itertools import chain, islice
from typing import Any

from ringfence.graph.model import AccountIn, AccountRow, IdentifierKey, LabelIn, Score, Subgraph, SweepResult
from ringfence.graph.stored_json import encode_attributes, load_attributes

CYPHER_DIR = files("ringfence.cypher")


@cache
def query(name: str) -> str:
    """The text of `cypher/<name>.cypher`; names are literals in this package, never input."""
    path = CYPHER_DIR / f"{name}.cypher"
    if "/" in name or not path.is_file():
        raise KeyError(f"no Cypher query named {name!r} in {CYPHER_DIR}")
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def migrations() -> tuple[str, ...]:
    """Names of the schema statements (`migrate_*.cypher`), in the order they apply: indexes
    first, which populate in the background, then constraints, each of which builds its own
    index before it returns. Over a bulk-imported database the two overlap (1M accounts:
    17.5 s -> 13.5 s)."""
    names = sorted(p.name.removesuffix(".cypher") for p in CYPHER_DIR.iterdir() if p.name.startswith("migrate_"))
    return tuple(sorted(names, key=lambda n: not query(n).startswith("CREATE INDEX")))


# -- values ----------------------------------------------------------------------------
def ts(value: datetime) -> float:
    """Times are stored as UTC epoch seconds (floats), as in the SQLite store."""
    return value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def dtn(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def identifier_key(type_: str, id_: str) -> str:
    """The Identifier node's unique key. Types are fixed words without '|', so the key is
    unambiguous whatever the id holds."""
    return f"{type_}|{id_}"


def account_row(row: Sequence[Any]) -> AccountRow:
    """From [id, created_at, attributes, label, labelled_at]."""
    i, created, attributes, label, labelled = row
    return AccountRow(i, dtn(created), load_attributes(attributes), label, dt(labelled))


# -- batch preparation -----------------------------------------------------------------
def prepare_upsert(accounts: Sequence[AccountIn]) -> tuple[list[dict[str, Any]], int]:
    """One row per account id, sorted by id (a fixed lock order), with its links merged
    into [type, id, first_seen, last_seen] lists.

    Folding repeats of an account inside the batch in input order gives what applying them
    one by one would: created_at min, attributes key by key (later wins), links min/max.
    A link without `seen_at` is dated by the created_at of the AccountIn that carries it.
    """
    merged: dict[str, dict[str, Any]] = {}
    link_count = 0
    for a in accounts:
        created = ts(a.created_at)
        m = merged.get(a.id)
        if m is None:
            m = merged[a.id] = {"id": a.id, "created_at": created, "new_attributes": dict(a.attributes), "links": {}}
        else:
            m["created_at"] = min(m["created_at"], created)
            m["new_attributes"].update(a.attributes)
        links: dict[tuple[str, str], list[float]] = m["links"]
        for link in a.links:
            seen = created if link.seen_at is None else ts(link.seen_at)
            span = links.get((link.type, link.id))
            if span is None:
                links[(link.type, link.id)] = [seen, seen]
            elif seen < span[0]:
                span[0] = seen
            elif seen > span[1]:
                span[1] = seen
        link_count += len(a.links)
    rows = []
    for account_id in sorted(merged):
        m = merged[account_id]
        m["links"] = [[t, i, f, la] for (t, i), (f, la) in sorted(m["links"].items())]
        rows.append(m)
    return rows, link_count


def merge_attributes(old_json: str | None, new: dict[str, Any]) -> str:
    """Key-by-key merge, new values win (what SQLite's json_patch does for flat, non-null maps)."""
    merged = load_attributes(old_json) if old_json else {}
    merged.update(new)
    return encode_attributes(merged)


def label_key(x: LabelIn, at: float) -> str:
    """Label events dedupe on (account, at, label, source)."""
    return json.dumps([x.account_id, at, x.label, x.source])


def prepare_labels(labels: Sequence[LabelIn], now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events to insert, first occurrence wins; per account, the update of its current label).

    Applying the batch's events in order with "latest at wins, ties to the later event" ends
    on the last event among those with the greatest `at`: one update per account.
    """
    events: dict[str, dict[str, Any]] = {}
    current: dict[str, dict[str, Any]] = {}
    for x in labels:
        at = ts(x.at or now)
        key = label_key(x, at)
        if key not in events:
            events[key] = {"key": key, "account_id": x.account_id, "label": x.label, "source": x.source,
                           "note": x.note, "at": at, "idx": len(events)}
        best = current.get(x.account_id)
        if best is None or at >= best["at"]:
            current[x.account_id] = {"account_id": x.account_id, "label": x.label, "at": at}
    return list(events.values()), [current[a] for a in sorted(current)]


def score_rows(scores: Sequence[Score]) -> list[dict[str, Any]]:
    """`write_scores.cypher`'s rows: one per account, sorted by id (a fixed lock order), with the
    account's scores in batch order (the statement applies them against the stored `as_of`) and
    the latest `as_of` among them (which settles the account's score request)."""
    by_account: dict[str, list[dict[str, Any]]] = {}
    for s in scores:
        by_account.setdefault(s.account_id, []).append({
            "risk": float(s.risk), "model_version": s.model_version, "scored_at": ts(s.scored_at),
            "as_of": ts(s.as_of), "reasons": json.dumps(s.reasons), "ring_id": s.ring_id,
        })
    return [
        {"account_id": a, "latest": max(x["as_of"] for x in rows), "scores": rows}
        for a, rows in sorted(by_account.items())
    ]


def neighbourhood_of(seeds: Sequence[str], record: Any, cap: int) -> Subgraph:
    """The `Subgraph` of `neighbourhood.cypher`'s single record, built exactly as
    `graph.neighbourhood.expand` builds it for one hop (same edges, degrees, caps, and the same
    insertion orders: seeds first in input order, then the other accounts by id)."""
    rows = {r[0]: account_row(r) for r in record["rows"]}
    seed_ids = [s for s in dict.fromkeys(seeds) if s in rows]
    accounts = {a: rows[a] for a in seed_ids}
    accounts.update((a, rows[a]) for a in sorted(rows.keys() - accounts.keys()))
    edges: dict[tuple[str, IdentifierKey], datetime] = {}
    for a, t, i, first in record["own"]:
        edges[(a, IdentifierKey(t, i))] = dtn(first)
    found = []
    for t, i, degree, benign, firsts in record["identifiers"]:
        key = IdentifierKey(t, i)
        found.append((key, int(degree), bool(benign)))
        for a, first in firsts:
            edges[(a, key)] = dtn(first)
    found.sort(key=lambda x: (x[0].type, x[0].id))
    return Subgraph(
        seeds=seed_ids,
        accounts=accounts,
        identifiers={key: degree for key, degree, _ in found},
        edges=sorted(((a, k, t) for (a, k), t in edges.items()), key=lambda e: (e[0], e[1].type, e[1].id)),
        capped=[key for key, degree, _ in found if degree > cap],
        benign={key for key, _, benign in found if benign},
        rings=dict(record["rings"]),
    )


# A publication reads the sweep's risks and rings as it writes them, a batch at a time: a
# sharded sweep's are never all in memory (`RiskSource`, `RingSource`).


def risk_batches(result: SweepResult, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """The sweep's risk rows in write batches of `chunk`, each batch's rings looked up as it goes."""
    risks = iter(result.account_risks.items())
    while pairs := list(islice(risks, chunk)):
        ring_of = result.rings.ring_of([a for a, _ in pairs])
        yield [{"account_id": a, "risk": float(r), "ring_id": ring_of.get(a)} for a, r in pairs]


def ring_batches(
    result: SweepResult, previous_updated: Callable[[list[str]], dict[str, float]], chunk: int
) -> Iterator[list[dict[str, Any]]]:
    """The sweep's ring rows in write batches of about `chunk` nodes. An unchanged ring keeps the
    updated_at it had (`previous_updated(ids)`, asked once per batch)."""
    at = ts(result.finished_at)
    batch: list[dict[str, Any]] = []
    weight = 0
    for ring in result.rings:
        batch.append({
            "id": ring.id, "risk": float(ring.risk), "size": len(ring.members), "created_at": ts(ring.created_at),
            "updated_at": None if ring.event == "unchanged" else at,
            "members": list(ring.members),
            "identifiers": [{"type": x.type, "id": x.id, "accounts": int(x.accounts)} for x in ring.identifiers],
        })
        weight += 1 + len(ring.members) + len(ring.identifiers)
        if weight >= chunk:
            yield _keep_updated(batch, at, previous_updated)
            batch, weight = [], 0
    if batch:
        yield _keep_updated(batch, at, previous_updated)


def _keep_updated(batch: list[dict[str, Any]], at: float,
                  previous_updated: Callable[[list[str]], dict[str, float]]) -> list[dict[str, Any]]:
    unchanged = [row["id"] for row in batch if row["updated_at"] is None]
    kept = previous_updated(unchanged) if unchanged else {}
    for row in batch:
        if row["updated_at"] is None:
            row["updated_at"] = kept.get(row["id"], at)
    return batch


def history_batches(result: SweepResult, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """The sweep's ring history rows (every ring's event, then the dissolved) in batches of `chunk`."""
    rows = chain(({"ring_id": r.id, "event": r.event, "size": len(r.members)} for r in result.rings),
                 ({"ring_id": r, "event": "dissolved", "size": n} for r, n in result.dissolved))
    while batch := list(islice(rows, chunk)):
        yield batch


def key_of(key: IdentifierKey) -> str:
    return identifier_key(key.type, key.id)
