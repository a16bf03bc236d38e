"""Investigators' questions on a small graph: a ring with its links, an identifier with its accounts,
paths to fraud, and a ring or subgraph as a file.

The store answers with the capped subgraph around the question; `graph.investigation` does the
graph work with networkx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ringfence.core.errors import found
from ringfence.core.settings import Settings
from ringfence.graph.investigation import AccountPath, ExportFormat, serialize, shortest_paths, to_networkx
from ringfence.graph.model import (
    Account,
    IdentifierInfo,
    IdentifierKey,
    LabelValue,
    LinkedAccount,
    Page,
    Ring,
    Subgraph,
)
from ringfence.graph.store import GraphStore

PathTarget = Literal["fraud", "ring"]
FLAGGED_RING_RISK = 0.5  # a ring at or above this risk is "flagged" (the sweep's high_risk_rings)


@dataclass(frozen=True, slots=True)
class FoundPath:
    path: AccountPath
    label: LabelValue | None
    ring_id: str | None


def paths(
    store: GraphStore, settings: Settings, account_id: str, to: PathTarget, max_hops: int, limit: int,
    hub_cap: int | None = None, max_nodes: int | None = None, max_edges: int | None = None,
) -> tuple[list[FoundPath], bool]:
    """Shortest paths from the account to labelled fraud (`fraud`) or to members of flagged rings
    (`ring`), at most `limit`, within a neighbourhood of at most `max_nodes` and `max_edges` when
    given; the flag says whether more were found, a hub was capped or the budget cut."""
    sub = store.neighbourhood([account_id], max_hops, hub_cap=hub_cap or settings.hub_cap,
                              max_nodes=max_nodes, max_edges=max_edges)
    found(sub.accounts.get(account_id), f"account {account_id} not found")
    if to == "fraud":
        targets = {a for a, row in sub.accounts.items() if row.label == "fraud"}
    else:
        flagged = {r for r in set(sub.rings.values())
                   if (summary := store.ring_summary(r)) is not None and summary.risk >= FLAGGED_RING_RISK}
        targets = {a for a, r in sub.rings.items() if r in flagged}
    walked = shortest_paths(sub, account_id, targets.__contains__, max_hops)
    out = [FoundPath(p, sub.accounts[p.target].label, sub.rings.get(p.target)) for p in walked[:limit]]
    return out, len(walked) > limit or bool(sub.capped) or sub.truncated


def subgraph_file(store: GraphStore, sub: Subgraph, fmt: ExportFormat) -> bytes:
    risks = store.get_risks(list(sub.accounts))
    accounts = {a: (risks.get(a), row.label, sub.rings.get(a)) for a, row in sub.accounts.items()}
    g = to_networkx(accounts, sub.identifiers, ((a, k) for a, k, _ in sub.edges), sub.benign)
    return serialize(g, fmt)


def ring_file(store: GraphStore, settings: Settings, ring_id: str, fmt: ExportFormat) -> bytes:
    """The ring's members, its identifiers and who uses which, as a file."""
    ring = found(store.get_ring(ring_id), f"ring {ring_id} not found in the current sweep")
    members = [m.account_id for m in ring.members]
    keys = {IdentifierKey(i.type, i.id): i.accounts for i in ring.identifiers}
    # Members' own links are never capped; the hub cap only bounds who else is read.
    sub = store.neighbourhood(members, 1, hub_cap=settings.hub_cap)
    accounts = {m.account_id: (m.risk, m.label, ring.summary.id) for m in ring.members}
    edges = [(a, k) for a, k, _ in sub.edges if a in accounts and k in keys]
    return serialize(to_networkx(accounts, keys, edges, sub.benign), fmt)


def ring_with_links(store: GraphStore, ring_id: str) -> tuple[Ring, list[tuple[str, IdentifierKey]]]:
    """The current ring and which member uses which of its identifiers, members and identifiers
    in the ring's order (one read of the members' own links: never a hub's other accounts)."""
    ring = found(store.get_ring(ring_id), f"ring {ring_id} not found in the current sweep")
    keys = [IdentifierKey(i.type, i.id) for i in ring.identifiers]
    position = {k: n for n, k in enumerate(keys)}
    links = [(account.id, IdentifierKey(link.type, link.id))
             for account in store.get_accounts([m.account_id for m in ring.members])
             for link in account.links if IdentifierKey(link.type, link.id) in position]
    links.sort(key=lambda x: position[x[1]])  # stable: members keep the ring's order per identifier
    return ring, links


@dataclass(frozen=True, slots=True)
class IdentifierView:
    info: IdentifierInfo
    page: Page[LinkedAccount]
    accounts: dict[str, Account]


def identifier_view(store: GraphStore, key: IdentifierKey, cursor: str | None, limit: int) -> IdentifierView:
    """An identifier with a page of its accounts (each with its current risk, label and ring)."""
    info = found(store.identifier(key), f"identifier {key.type}:{key.id} not found")
    page = store.identifier_accounts(key, cursor, limit)
    accounts = {a.id: a for a in store.get_accounts([x.account_id for x in page.data])}
    return IdentifierView(info, page, accounts)
