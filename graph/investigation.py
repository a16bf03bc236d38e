"""What investigators ask of a small graph, answered with networkx: paths and file exports.

Both work on what the store returns for one question (a capped `Subgraph`, a ring's members
and links), never on the whole graph: networkx is the right tool at that size.

- `shortest_paths`: from one account through shared identifiers to target accounts, on the
  bipartite account–identifier graph. A hub identifier (more accounts than the cap) is in the
  subgraph with only its cap earliest-linked accounts, so a path passes through it only to
  those: the rest of its accounts are not reachable through it. Benign identifiers link nobody.
- `to_networkx` / `serialize`: the same graph as GraphML, GEXF or node-link JSON. Nodes are
  `account:<id>` and `<type>:<id>`, with `kind`, `name`, `risk`, `label`, `ring_id` (accounts)
  and `type`, `degree`, `benign` (identifiers) as attributes; absent values are left out
  (GraphML has no null). GEXF has a `label` of its own, the name a viewer shows: there it is the
  node's `name`, and an account's fraud/legit label is the attribute `account_label`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import networkx as nx

from ringfence.graph.model import IdentifierKey, LabelValue, Subgraph

ExportFormat = Literal["graphml", "gexf", "json"]
MEDIA_TYPES: dict[ExportFormat, str] = {
    "graphml": "application/graphml+xml",
    "gexf": "application/gexf+xml",
    "json": "application/json",
}


def account_node(account_id: str) -> str:
    return f"account:{account_id}"


def identifier_node(key: IdentifierKey) -> str:
    return f"{key.type}:{key.id}"


@dataclass(frozen=True, slots=True)
class PathStep:
    id: str
    kind: str  # "account" or an identifier type


@dataclass(frozen=True, slots=True)
class AccountPath:
    target: str
    hops: int  # account-to-account steps
    steps: list[PathStep]


def _bipartite(sub: Subgraph) -> nx.Graph:
    """Accounts and non-benign identifiers, added in sorted order so that BFS ties break by id."""
    g = nx.Graph()
    for account_id in sorted(sub.accounts):
        g.add_node(account_node(account_id), id=account_id, kind="account")
    for key in sorted(sub.identifiers, key=lambda k: (k.type, k.id)):
        if key not in sub.benign:
            g.add_node(identifier_node(key), id=key.id, kind=key.type)
    for account_id, key, _ in sorted(sub.edges, key=lambda e: (e[0], e[1].type, e[1].id)):
        if key not in sub.benign and account_id in sub.accounts:
            g.add_edge(account_node(account_id), identifier_node(key))
    return g


def shortest_paths(sub: Subgraph, source: str, is_target: Callable[[str], bool], max_hops: int) -> list[AccountPath]:
    """One shortest path from `source` to each target account within `max_hops`, shortest first,
    ties by target id; among equally short paths to one target, the first in id order."""
    g = _bipartite(sub)
    start = account_node(source)
    if start not in g:
        return []
    # Nodes and edges went in sorted, so networkx's BFS meets neighbours in id order: the path
    # kept for each target is the same whatever order the store returned the edges in.
    found = nx.single_source_shortest_path(g, start, cutoff=2 * max_hops)
    out = []
    for node, chain in found.items():
        account_id = g.nodes[node]["id"]
        if g.nodes[node]["kind"] != "account" or node == start or not is_target(account_id):
            continue
        steps = [PathStep(g.nodes[n]["id"], g.nodes[n]["kind"]) for n in chain]
        out.append(AccountPath(account_id, (len(chain) - 1) // 2, steps))
    out.sort(key=lambda p: (p.hops, p.target))
    return out


def to_networkx(
    accounts: Mapping[str, tuple[float | None, LabelValue | None, str | None]],
    identifiers: Mapping[IdentifierKey, int],
    edges: Iterable[tuple[str, IdentifierKey]],
    benign: set[IdentifierKey] | frozenset[IdentifierKey] = frozenset(),
) -> nx.Graph:
    """The graph to export: accounts (risk, label, ring id), identifiers (type, degree, benign)."""
    g = nx.Graph()
    for account_id in sorted(accounts):
        risk, label, ring_id = accounts[account_id]
        attrs: dict[str, object] = {"kind": "account", "name": account_id}
        attrs |= {k: v for k, v in (("risk", risk), ("label", label), ("ring_id", ring_id)) if v is not None}
        g.add_node(account_node(account_id), **attrs)
    for key in sorted(identifiers, key=lambda k: (k.type, k.id)):
        g.add_node(identifier_node(key), kind="identifier", type=key.type, name=key.id,
                   degree=int(identifiers[key]), benign=key in benign)
    for account_id, key in sorted(edges, key=lambda e: (e[0], e[1].type, e[1].id)):
        if account_id in accounts and key in identifiers:
            g.add_edge(account_node(account_id), identifier_node(key), type=key.type)
    return g


def serialize(g: nx.Graph, fmt: ExportFormat) -> bytes:
    """`g` in the file format investigators open in Gephi, yEd or Linkurious."""
    if fmt == "graphml":
        return "\n".join(nx.generate_graphml(g, encoding="utf-8", prettyprint=False)).encode()
    if fmt == "gexf":
        shown = nx.Graph(g)
        for _, attrs in shown.nodes(data=True):
            if "label" in attrs:
                attrs["account_label"] = attrs.pop("label")
            attrs["label"] = attrs["name"]
        buffer = io.BytesIO()
        nx.write_gexf(shown, buffer, encoding="utf-8", prettyprint=False)
        return buffer.getvalue()
    return json.dumps(nx.node_link_data(g, edges="edges"), sort_keys=True).encode()
