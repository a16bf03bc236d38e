"""Backend-neutral k-hop expansion with a hub cap, over three batched primitives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ringfence.graph.model import AccountRow, IdentifierKey, Subgraph

Edge = tuple[str, IdentifierKey, datetime]


class ExpansionSource(Protocol):
    def _links_of(self, account_ids: Sequence[str]) -> list[Edge]: ...

    def _identifier_accounts(
        self, keys: Sequence[IdentifierKey], cap: int
    ) -> tuple[dict[IdentifierKey, int], list[Edge]]:
        """Full degree of each key, and edges to its `cap` earliest-linked accounts."""

    def _account_rows(self, account_ids: Sequence[str]) -> dict[str, AccountRow]: ...

    def benign_identifiers(self) -> set[IdentifierKey]: ...


def expand(source: ExpansionSource, seeds: Sequence[str], hops: int, hub_cap: int) -> Subgraph:
    rows = source._account_rows(list(dict.fromkeys(seeds)))
    seen: set[str] = set(rows)
    frontier = sorted(seen)
    identifiers: dict[IdentifierKey, int] = {}
    edges: dict[tuple[str, IdentifierKey], datetime] = {}
    capped: list[IdentifierKey] = []
    for _ in range(hops):
        if not frontier:
            break
        own = source._links_of(frontier)
        for account_id, key, first_seen in own:
            edges[(account_id, key)] = first_seen
        new_keys = sorted({key for _, key, _ in own if key not in identifiers}, key=_key_order)
        degrees, shared = source._identifier_accounts(new_keys, hub_cap)
        identifiers.update(degrees)
        capped.extend(k for k in new_keys if degrees.get(k, 0) > hub_cap)
        for account_id, key, first_seen in shared:
            edges[(account_id, key)] = first_seen
        frontier = sorted({a for a, _, _ in shared} - seen)
        seen.update(frontier)
    rows.update(source._account_rows(sorted(seen - rows.keys())))
    return Subgraph(
        seeds=[s for s in dict.fromkeys(seeds) if s in rows],
        accounts=rows,
        identifiers=identifiers,
        edges=sorted(((a, k, t) for (a, k), t in edges.items()), key=lambda e: (e[0], _key_order(e[1]))),
        capped=capped,
        benign=source.benign_identifiers() & identifiers.keys(),
    )


def _key_order(key: IdentifierKey) -> tuple[str, str]:
    return (key.type, key.id)
