"""Backend-neutral k-hop expansion with a hub cap, over three batched primitives."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from ringfence.graph.model import AccountRow, IdentifierKey, Subgraph

Edge = tuple[str, IdentifierKey, datetime]


class ExpansionSource(Protocol):
    def _links_of(self, account_ids: Sequence[str]) -> list[Edge]: ...

    def _identifier_accounts(
        self, keys: Sequence[IdentifierKey], cap: int
    ) -> tuple[dict[IdentifierKey, int], list[Edge]]:
        """Full degree of each key, and edges to its `cap` earliest-linked accounts (none for 0)."""

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


class BoundedSource(ExpansionSource, Protocol):
    def _links_of_ordered(self, account_ids: Sequence[str], limit: int) -> list[Edge]:
        """The first `limit` links of the accounts, ordered by (account id, type, id)."""


def expand_bounded(
    source: BoundedSource, seeds: Sequence[str], hops: int, hub_cap: int, max_nodes: int, max_edges: int
) -> Subgraph:
    """`expand` that keeps at most `max_nodes` nodes (accounts and identifiers) and `max_edges`
    edges, and reads about that much: the result is `expand`'s, in the same orders, whenever it
    fits the budget; otherwise `truncated` is set and what is kept is what breadth-first order
    reaches first (seeds in input order, each hop's links by (account, type, id), then each new
    identifier in (type, id) order with its accounts earliest-linked first, ties by id).

    Reads stay bounded because a read is limited to what could still fit plus what is already
    known: among the first `room + known + 1` rows of a list at most `known` are repeats, so
    reading further could only refuse more."""
    budget = _Budget(max_nodes, max_edges)
    order = list(dict.fromkeys(seeds))
    found = source._account_rows(order)
    seen: list[str] = [s for s in order if s in found and budget.take_node()]
    budget.truncated = len(seen) < len(found)
    seen_set = set(seen)
    frontier = sorted(seen_set)
    identifiers: dict[IdentifierKey, int] = {}
    edges: dict[tuple[str, IdentifierKey], datetime] = {}
    capped: list[IdentifierKey] = []
    for _ in range(hops):
        if not frontier or (budget.truncated and budget.edges_left() == 0):
            break  # nothing more can be kept, and the cut is already known
        in_frontier = set(frontier)
        known = sum(1 for a, _ in edges if a in in_frontier)
        limit = budget.edges_left() + known + 1
        own = source._links_of_ordered(frontier, limit)
        if len(own) >= limit:
            budget.truncated = True
        new_keys: set[IdentifierKey] = set()
        for account_id, key, first_seen in own:
            if (account_id, key) in edges:
                continue
            if not budget.take_edge():
                continue  # a node is kept only with an edge to it
            if key not in identifiers and key not in new_keys:
                if not budget.take_node():
                    budget.give_edge()
                    continue
                new_keys.add(key)
            edges[(account_id, key)] = first_seen
        reached: set[str] = set()
        for chunk, cap in _chunks(sorted(new_keys, key=_key_order), edges, budget, hub_cap):
            degrees, shared = source._identifier_accounts(chunk, cap)
            identifiers.update((k, degrees.get(k, 0)) for k in chunk)
            capped.extend(k for k in chunk if degrees.get(k, 0) > hub_cap)
            for account_id, key, first_seen in _per_key(shared, chunk, hub_cap):
                if (account_id, key) in edges:
                    continue
                if not budget.take_edge():
                    continue
                if account_id not in seen_set:
                    if not budget.take_node():
                        budget.give_edge()
                        continue
                    seen_set.add(account_id)
                    seen.append(account_id)
                    reached.add(account_id)
                edges[(account_id, key)] = first_seen
        frontier = sorted(reached)
    rows = {a: found[a] for a in seen if a in found}
    rest = source._account_rows(sorted(seen_set - rows.keys()))
    rows.update((a, rest[a]) for a in sorted(rest))
    return Subgraph(
        seeds=[s for s in order if s in rows],
        accounts=rows,
        identifiers=identifiers,
        edges=sorted(((a, k, t) for (a, k), t in edges.items()), key=lambda e: (e[0], e[1].type, e[1].id)),
        capped=capped,
        benign=source.benign_identifiers() & identifiers.keys(),
        truncated=budget.truncated,
    )


class _Budget:
    def __init__(self, max_nodes: int, max_edges: int) -> None:
        self.nodes, self.edges, self.truncated = max(max_nodes, 0), max(max_edges, 0), False

    def take_node(self) -> bool:
        if self.nodes == 0:
            self.truncated = True
            return False
        self.nodes -= 1
        return True

    def take_edge(self) -> bool:
        if self.edges == 0:
            self.truncated = True
            return False
        self.edges -= 1
        return True

    def give_edge(self) -> None:
        self.edges += 1

    def edges_left(self) -> int:
        return self.edges


def _chunks(
    keys: list[IdentifierKey], edges: dict[tuple[str, IdentifierKey], datetime], budget: _Budget, hub_cap: int
) -> Iterator[tuple[list[IdentifierKey], int]]:
    """New identifiers in groups, each with the per-identifier read limit for one
    `_identifier_accounts` call: at most the hub cap, and at most what could still fit plus the
    edges to it already kept (so a hub is read only as far as the budget reaches). A group holds
    about as many rows as the budget can take, so a hub-shaped neighbourhood costs a few reads."""
    known: dict[IdentifierKey, int] = {}
    for _, key in edges:
        known[key] = known.get(key, 0) + 1
    start = 0
    while start < len(keys):
        room = budget.edges_left()
        if room == 0 and budget.truncated:
            # Nothing more can be kept and the cut is known: the rest need their degrees only
            # (a top-k read of a hub's accounts costs the whole hub on Neo4j, even for k = 1).
            yield keys[start:], 0
            return
        rows, end, cap = 0, start, 0
        allowance = room
        while end < len(keys):
            want = min(hub_cap, room + known.get(keys[end], 0) + 1)
            allowance += known.get(keys[end], 0) + 1
            if end > start and rows + want > allowance:
                break
            rows, cap, end = rows + want, max(cap, want), end + 1
        yield keys[start:end], max(cap, 0)
        start = end


def _per_key(shared: list[Edge], chunk: list[IdentifierKey], hub_cap: int) -> list[Edge]:
    """`shared` grouped by identifier in `chunk` order, each group in read order (earliest first)."""
    by_key: dict[IdentifierKey, list[Edge]] = {k: [] for k in chunk}
    for edge in shared:
        by_key[edge[1]].append(edge)
    return [e for k in chunk for e in by_key[k][:hub_cap]]
