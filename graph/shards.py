"""Staged shard results of a sharded sweep (`ringfence.services.shards`), on every backend.

A shard task computes the rings and risks of its shard and stages them under (sweep id, shard
number) before the sweep's finishing step reads them, a shard at a time, and publishes once. Staging replaces:
a redelivered or repeated shard task leaves one row per (sweep id, shard), never two.
Payloads are opaque bytes to the store (the service encodes them). Nothing staged is read by
the API; `drop_staged` removes a sweep's rows once it is published or has failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from ringfence.graph.model import IdentifierKey, Subgraph

if TYPE_CHECKING:  # graph.partition reads stores: a runtime import would be circular
    from ringfence.graph.partition import ComponentTable

ShardStatus = Literal["done", "failed"]


class ShardStore(Protocol):
    def shard_neighbourhood(self, account_ids: Sequence[str], hub_cap: int) -> Subgraph:
        """`neighbourhood(account_ids, hops=1, hub_cap)` for a whole shard (thousands of seeds),
        read in bulk: the same accounts, identifiers (full degrees), edges, benign and rings."""
        ...

    def write_components(self, hub_cap: int, chunk_size: int = 200_000) -> ComponentTable:
        """The partition step without GDS: the components of the linking graph (`graph.partition`)
        from one consistent read, kept in the store with each account (replacing the previous
        partition's) and returned as integers per component, in order of each one's smallest
        account id. No account id needs to reach the caller."""
        ...

    def component_accounts(self, components: Sequence[int]) -> list[str]:
        """The ids (ascending) of the accounts in `components` of the last partition (a shard's
        accounts), by an index seek per component."""
        ...

    def stage_shard(self, sweep_id: str, shard: int, status: ShardStatus, payload: bytes) -> None:
        """Stage shard `shard` of `sweep_id`, replacing what a previous run of it staged."""
        ...

    def staged_shard(self, sweep_id: str, shard: int) -> tuple[ShardStatus, bytes] | None:
        """Staged shard `shard` of `sweep_id`, or None. One at a time: a finishing step holds one
        shard's payload, never the whole sweep's."""
        ...

    def shard_statuses(self, sweep_id: str) -> dict[int, ShardStatus]:
        """The status of every staged shard of `sweep_id`, without payloads (cheap to poll)."""
        ...

    def drop_staged(self, sweep_id: str) -> None:
        """Remove every staged shard of `sweep_id` (no error when none)."""
        ...


def merge_subgraphs(subs: Sequence[Subgraph]) -> Subgraph:
    """One subgraph of several 1-hop neighbourhoods (of disjoint seed sets)."""
    if len(subs) == 1:
        return subs[0]
    merged = Subgraph(seeds=[], accounts={}, identifiers={}, edges=[])
    edges: dict[tuple[str, IdentifierKey], datetime] = {}
    capped: dict[IdentifierKey, None] = {}
    for s in subs:
        merged.seeds.extend(s.seeds)
        merged.accounts.update(s.accounts)
        merged.identifiers.update(s.identifiers)
        merged.benign |= s.benign
        merged.rings.update(s.rings)
        capped.update(dict.fromkeys(s.capped))
        for a, key, t in s.edges:
            edges[(a, key)] = t
    merged.capped = list(capped)
    merged.edges = sorted(((a, k, t) for (a, k), t in edges.items()), key=lambda e: (e[0], e[1].type, e[1].id))
    return merged
