"""The partition step of a sharded sweep: components of the linking graph, packed into shards.

Ring detection (`graph.detection`) links two accounts only through *linking* identifiers:
shared by 2..`hub_cap` accounts and not benign. A ring is a subset of one connected component
of the account–identifier graph restricted to linking identifiers, so sweeping each component
on its own finds exactly the rings of a whole-graph sweep. Components are packed, in the order
of their smallest account, into shards of about `shard_links` units (an account's links plus
one for the account itself, so that link-less accounts cost something); a component bigger than
that is a shard of its own and is reported as oversize.

Everything here is integer arrays: account codes (positions in id order), identifier codes,
component labels. `components` takes link columns from any source (the streamed fallback's
`GraphArrays`, a test's hand-made graph); `stream_partition` reads them from a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringfence.graph.arrays import GraphArrays, load_arrays
from ringfence.graph.store import GraphStore


@dataclass
class Partition:
    """Shards of account codes (ascending in each shard; shards in order of their first account)."""

    account_ids: list[str]
    shards: list[np.ndarray]  # int64 account codes per shard
    component: np.ndarray  # int64 [Na]: component label of each account
    oversize: list[dict[str, int]] = field(default_factory=list)  # {"shard", "accounts", "links", "hub_cap"}
    stats: dict[str, int] = field(default_factory=dict)

    def shard_ids(self, k: int) -> list[str]:
        return [self.account_ids[a] for a in self.shards[k].tolist()]


def linking_mask(degree: np.ndarray, benign: np.ndarray, hub_cap: int) -> np.ndarray:
    """Identifiers that link accounts in ring detection (`graph.detection.projection`'s rule)."""
    return (degree >= 2) & (degree <= hub_cap) & ~benign


def components(n_accounts: int, n_identifiers: int, e_acc: np.ndarray, e_id: np.ndarray,
               linking: np.ndarray) -> np.ndarray:
    """Component label per account (int64 [Na]) of the account–identifier graph whose identifiers
    are those of `linking`; labels are numbered in order of each component's smallest account."""
    keep = linking[e_id]
    n = n_accounts
    bip = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (e_acc[keep], n + e_id[keep].astype(np.int64))),
        shape=(n + n_identifiers, n + n_identifiers),
    )
    _, comp = connected_components(bip, directed=False)
    return canonical(comp[:n])


def canonical(label: np.ndarray) -> np.ndarray:
    """Relabel so that components are numbered by their smallest account (a partition compares
    equal whatever engine found it)."""
    label = np.asarray(label, dtype=np.int64)
    if label.size == 0:
        return label
    _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()]


def pack(component: np.ndarray, weight: np.ndarray, shard_links: int, hub_cap: int
         ) -> tuple[list[np.ndarray], list[dict[str, int]]]:
    """Shards of account codes from component labels (numbered by smallest account) and a weight
    per account; components larger than `shard_links` are shards of their own, reported."""
    n_comp = int(component.max()) + 1 if component.size else 0
    comp_weight = np.bincount(component, weights=weight, minlength=n_comp).astype(np.int64)
    comp_size = np.bincount(component, minlength=n_comp)
    shard_of = np.empty(n_comp, dtype=np.int64)
    oversize: list[dict[str, int]] = []
    shard, filled = 0, 0
    for c, w in enumerate(comp_weight.tolist()):
        if filled and filled + w > shard_links:
            shard, filled = shard + 1, 0
        shard_of[c] = shard
        filled += w
        if w > shard_links:
            oversize.append({"shard": shard, "accounts": int(comp_size[c]), "links": w, "hub_cap": hub_cap})
    per_account = shard_of[component]
    order = np.argsort(per_account, kind="stable")  # stable: ascending codes inside each shard
    counts = np.bincount(per_account, minlength=shard + 1 if n_comp else 0)
    return np.split(order.astype(np.int64), np.cumsum(counts)[:-1]) if n_comp else [], oversize


def partition_arrays(g: GraphArrays, hub_cap: int, shard_links: int,
                     component: np.ndarray | None = None) -> Partition:
    """The partition of `g`; `component` (labels per account, e.g. from GDS WCC) skips the
    component search."""
    degree = g.degree()
    linking = linking_mask(degree, g.benign, hub_cap)
    if component is None:
        component = components(g.n_accounts, g.n_identifiers, g.e_acc, g.e_id, linking)
    else:
        component = canonical(component)
    weight = 1 + np.bincount(g.e_acc, minlength=g.n_accounts)
    shards, oversize = pack(component, weight, shard_links, hub_cap)
    sizes = np.bincount(component) if component.size else np.zeros(0, dtype=np.int64)
    comp_links = np.bincount(component, weights=weight - 1, minlength=sizes.size) if component.size else sizes
    stats = {
        "accounts": g.n_accounts,
        "links": g.n_links,
        "components": int(sizes.size),
        "largest_component_accounts": int(sizes.max(initial=0)),
        "largest_component_links": int(np.max(comp_links, initial=0)),
        "shards": len(shards),
        "oversize_shards": len(oversize),
        "hubs": int(((degree > hub_cap) & ~g.benign).sum()),
    }
    return Partition(g.account_ids, shards, component, oversize, stats)


def partition_components(account_ids: list[str], component: np.ndarray, links: np.ndarray, hub_cap: int,
                         shard_links: int) -> Partition:
    """The partition from components found elsewhere (GDS WCC inside Neo4j) and each account's
    link count: only account ids and integers reach this process."""
    component = canonical(component)
    weight = 1 + links.astype(np.int64)
    shards, oversize = pack(component, weight, shard_links, hub_cap)
    sizes = np.bincount(component) if component.size else np.zeros(0, dtype=np.int64)
    comp_links = np.bincount(component, weights=links, minlength=sizes.size) if component.size else sizes
    stats = {
        "accounts": len(account_ids),
        "links": int(links.sum()),
        "components": int(sizes.size),
        "largest_component_accounts": int(sizes.max(initial=0)),
        "largest_component_links": int(np.max(comp_links, initial=0)),
        "shards": len(shards),
        "oversize_shards": len(oversize),
    }
    return Partition(account_ids, shards, component, oversize, stats)


def stream_partition(store: GraphStore, hub_cap: int, shard_links: int) -> Partition:
    """The partition from the store's links, read in chunks into integer arrays (no attributes):
    the embedded path, and Neo4j's fallback when the server has no GDS."""
    return partition_arrays(load_arrays(store, attributes=False), hub_cap, shard_links)
