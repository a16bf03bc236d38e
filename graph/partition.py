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
`GraphArrays`, a test's hand-made graph); `stream_partition` reads them from a store and gives
the reference `Partition` (shards of account codes, tests and benchmarks compare against it).
`ComponentStream` finds the same components from link rows in identifier order, a chunk at a
time, holding integers per *account* only (no identifier strings, no link arrays): the embedded
store's partition (`SQLiteStore.write_components`), which at 10M accounts needed 8.8 GB as
`GraphArrays` (BENCHMARKS.md, "Sharded sweeps"). A sweep's coordinator never holds account ids:
the store keeps each account's component, the coordinator a `ComponentTable` (integers per
component) packed into `ComponentShards` (component ids per shard), and a shard task reads its
accounts from the store by component.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringfence.graph.arrays import GraphArrays, load_arrays
from ringfence.graph.store import GraphStore


@dataclass
class Partition:
    """Shards of account codes (ascending in each shard; shards in order of their first account)."""

    account_ids: Sequence[str]
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


def pack_components(weight: np.ndarray, size: np.ndarray, shard_links: int, hub_cap: int
                    ) -> tuple[np.ndarray, int, list[dict[str, int]]]:
    """The shard of each component (in the given order), given its weight (accounts + links)
    and size: (shard per component, number of shards, oversize). A component heavier than
    `shard_links` is a shard of its own and is reported."""
    shard_of = np.empty(len(weight), dtype=np.int64)
    oversize: list[dict[str, int]] = []
    shard, filled = 0, 0
    for c, w in enumerate(weight.tolist()):
        if filled and filled + w > shard_links:
            shard, filled = shard + 1, 0
        shard_of[c] = shard
        filled += w
        if w > shard_links:
            oversize.append({"shard": shard, "accounts": int(size[c]), "links": w, "hub_cap": hub_cap})
    return shard_of, shard + 1 if len(weight) else 0, oversize


def partition_arrays(g: GraphArrays, hub_cap: int, shard_links: int,
                     component: np.ndarray | None = None) -> Partition:
    """The partition of `g`; `component` (labels per account, e.g. from GDS WCC) skips the
    component search."""
    return linking_components_of(g, hub_cap, component).partition(hub_cap, shard_links)


def linking_components_of(g: GraphArrays, hub_cap: int, component: np.ndarray | None = None) -> LinkingComponents:
    degree = g.degree()
    if component is None:
        component = components(g.n_accounts, g.n_identifiers, g.e_acc, g.e_id, linking_mask(degree, g.benign, hub_cap))
    return LinkingComponents(g.account_ids, component, np.bincount(g.e_acc, minlength=g.n_accounts),
                             int(((degree > hub_cap) & ~g.benign).sum()))


def stream_partition(store: GraphStore, hub_cap: int, shard_links: int) -> Partition:
    """The partition from the store's links, read in chunks into integer arrays (no attributes):
    Neo4j's fallback when the server has no GDS, and the reference the leaner engines are tested
    against."""
    return partition_arrays(load_arrays(store, attributes=False), hub_cap, shard_links)


@dataclass
class LinkingComponents:
    """What the partition needs of a store: account ids in id order, each one's component label
    and link count (all its links, hubs and benign ones too), and how many hubs were left out."""

    account_ids: Sequence[str]
    component: np.ndarray  # int [Na]
    links: np.ndarray  # int64 [Na]
    hubs: int = 0

    def partition(self, hub_cap: int, shard_links: int) -> Partition:
        """The reference partition: `ComponentTable`'s packing, with shards as account codes."""
        component = canonical(self.component)
        table = ComponentTable.of(component, self.links, self.hubs)
        shard_of, n_shards, oversize = table.pack(hub_cap, shard_links)
        per_account = shard_of[component]  # canonical labels are the table's rows
        order = np.argsort(per_account, kind="stable").astype(np.int64)  # stable: ascending codes in a shard
        shards = np.split(order, np.cumsum(np.bincount(per_account, minlength=n_shards))[:-1]) if n_shards else []
        return Partition(self.account_ids, shards, component, oversize, table.stats(n_shards, oversize))


@dataclass
class ComponentShards:
    """The partition as the coordinator holds it once the store keeps every account's component
    (`ShardStore.write_components`): shards are lists of component ids, and a shard task reads
    its accounts by component (`ShardStore.component_accounts`, an index seek). Integers only:
    no account id reaches the coordinator."""

    shards: list[np.ndarray]  # int64 component ids per shard, ascending
    oversize: list[dict[str, int]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class ComponentTable:
    """Per component, in packing order (the streamed engines: by smallest account id; GDS: by
    component id), its id in the store, its accounts and its links; and how many hubs were left out."""

    component: np.ndarray  # int64 [Nc]
    accounts: np.ndarray  # int64 [Nc]
    links: np.ndarray  # int64 [Nc]
    hubs: int | None = None  # None: not counted (GDS)

    @classmethod
    def of(cls, component: np.ndarray, links: np.ndarray, hubs: int) -> ComponentTable:
        """From canonical labels per account (`canonical`) and each account's link count."""
        sizes = np.bincount(component) if component.size else np.zeros(0, dtype=np.int64)
        comp_links = np.bincount(component, weights=links, minlength=sizes.size).astype(np.int64)
        return cls(np.arange(sizes.size, dtype=np.int64), sizes.astype(np.int64), comp_links, hubs)

    def pack(self, hub_cap: int, shard_links: int) -> tuple[np.ndarray, int, list[dict[str, int]]]:
        """(shard per component, number of shards, oversize) for a weight of accounts + links."""
        return pack_components(self.accounts + self.links, self.accounts, shard_links, hub_cap)

    def stats(self, n_shards: int, oversize: list[dict[str, int]]) -> dict[str, int]:
        stats = {
            "accounts": int(self.accounts.sum()),
            "links": int(self.links.sum()),
            "components": int(self.component.size),
            "largest_component_accounts": int(self.accounts.max(initial=0)),
            "largest_component_links": int(self.links.max(initial=0)),
            "shards": n_shards,
            "oversize_shards": len(oversize),
        }
        if self.hubs is not None:
            stats["hubs"] = self.hubs
        return stats

    def partition(self, hub_cap: int, shard_links: int) -> ComponentShards:
        shard_of, n_shards, oversize = self.pack(hub_cap, shard_links)
        counts = np.bincount(shard_of, minlength=n_shards)
        shards = np.split(self.component, np.cumsum(counts)[:-1]) if n_shards else []
        return ComponentShards([np.sort(s) for s in shards], oversize, self.stats(n_shards, oversize))


class ComponentStream:
    """Components of the linking graph from link rows (account code, type, id) sorted by
    (type, id), fed a chunk at a time: each identifier is a run of equal keys; a linking run
    (2..hub_cap accounts, not benign) joins its accounts as a chain of edges, and the buffered
    edges are merged into a label per account by scipy's connected components every
    `flush_edges` edges. Memory: a label and a link count per account, the edge buffer, and
    at most hub_cap + 1 rows of the run a chunk ends in."""

    def __init__(self, n_accounts: int, hub_cap: int, benign: set[tuple[str, str]], flush_edges: int = 4_000_000):
        self.n, self.hub_cap, self.benign, self.flush_edges = n_accounts, hub_cap, benign, flush_edges
        self.label = np.arange(n_accounts, dtype=np.int32 if n_accounts < 2**31 else np.int64)
        self.links = np.zeros(n_accounts, dtype=np.int64)
        self.hubs = 0
        self._eu: list[np.ndarray] = []
        self._ev: list[np.ndarray] = []
        self._buffered = 0
        self._open: tuple[str, str] | None = None  # the key of the run the last chunk ended in
        self._open_codes = np.zeros(0, dtype=np.int64)  # its first hub_cap + 1 accounts
        self._open_len = 0

    def add(self, codes: np.ndarray, types: Sequence[str], values: Sequence[str]) -> None:
        n = len(codes)
        if not n:
            return
        codes = np.asarray(codes, dtype=np.int64)
        np.add.at(self.links, codes, 1)  # O(chunk): a bincount over every account per chunk cost 80 MB at 10M
        new = np.empty(n, dtype=bool)
        new[0] = self._open != (types[0], values[0])
        new[1:] = np.fromiter(map(operator.ne, values[1:], values[:-1]), dtype=bool, count=n - 1)
        new[1:] |= np.fromiter(map(operator.ne, types[1:], types[:-1]), dtype=bool, count=n - 1)
        starts = np.flatnonzero(new)
        head = int(starts[0]) if len(starts) else n
        self._extend_open(codes[:head])
        if not len(starts):
            return
        self._close_open()
        # complete runs: every start but the last; the last run may go on in the next chunk
        lengths = np.diff(starts)
        self._runs(codes, starts[:-1], lengths, types, values)
        last = int(starts[-1])
        self._open = (types[last], values[last])
        self._extend_open(codes[last:])
        if self._buffered >= self.flush_edges:
            self._merge()

    def finish(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(component label per account, link count per account, hubs)."""
        self._close_open()
        self._merge()
        return self.label, self.links, self.hubs

    def _is_benign(self, t: str, v: str) -> bool:
        return (t, v) in self.benign

    def _extend_open(self, codes: np.ndarray) -> None:
        self._open_len += len(codes)
        room = self.hub_cap + 1 - len(self._open_codes)
        if room > 0 and len(codes):
            self._open_codes = np.concatenate([self._open_codes, codes[:room]])

    def _close_open(self) -> None:
        if self._open is not None and self._open_len:
            k = self._open_len
            if not self._is_benign(*self._open):
                if k > self.hub_cap:
                    self.hubs += 1
                elif k >= 2:
                    self._edges(self._open_codes[:-1], self._open_codes[1:])
        self._open, self._open_len = None, 0
        self._open_codes = np.zeros(0, dtype=np.int64)

    def _runs(self, codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray, types: Sequence[str],
              values: Sequence[str]) -> None:
        if not len(starts):
            return
        sized = np.flatnonzero(lengths >= 2)
        benign = np.zeros(len(starts), dtype=bool)
        if self.benign:
            benign[sized] = [self._is_benign(types[j], values[j]) for j in starts[sized].tolist()]
        self.hubs += int(((lengths > self.hub_cap) & ~benign).sum())
        linking = (lengths >= 2) & (lengths <= self.hub_cap) & ~benign
        if not linking.any():
            return
        # a row joins the next one when both lie in the same linking run
        run_of = np.repeat(np.arange(len(starts)), lengths)
        rows = np.arange(int(starts[0]), int(starts[0]) + len(run_of))
        pair = (run_of[:-1] == run_of[1:]) & linking[run_of[:-1]]
        self._edges(codes[rows[:-1][pair]], codes[rows[1:][pair]])

    def _edges(self, u: np.ndarray, v: np.ndarray) -> None:
        if len(u):
            self._eu.append(u)
            self._ev.append(v)
            self._buffered += len(u)

    def _merge(self) -> None:
        if not self._buffered:
            return
        lu = self.label[np.concatenate(self._eu)]
        lv = self.label[np.concatenate(self._ev)]
        self._eu, self._ev, self._buffered = [], [], 0
        keep = lu != lv
        g = sp.coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (lu[keep], lv[keep])), shape=(self.n, self.n))
        _, merged = connected_components(g.tocsr(), directed=False)
        self.label = merged.astype(self.label.dtype)[self.label]
