"""Ring detection on the account–identifier graph.

Detection reads the whole graph as integer-coded numpy arrays (`graph.arrays.GraphArrays`,
here also called `LinkGraph`): accounts and identifiers are numbered, links are int32 columns.

Detection (`detect`):

1. Linking identifiers: shared by at least two accounts, at most `hub_cap` accounts, and not
   on the benign allow-list. Hubs (emulator default device ids, payment facilitators' pooled
   bank accounts...) and benign identifiers link nobody; they stay in the graph as GNN features.
2. Each linking identifier of degree d weighs w(d) = 1 / ln(1 + d): a device shared by 3
   accounts weighs 0.72, one shared by 20 weighs 0.33, one shared by 200 weighs 0.19.
3. Accounts are linked by the sum of the weights of what they share: A = B·diag(w)·Bᵀ (scipy
   sparse, diagonal dropped). Two accounts sharing a card and a device bind tighter than two
   accounts sharing one mid-sized hub.
4. Candidate groups are the connected components of A restricted to edges of weight ≥
   `threshold` (0.6). One shared identifier links alone only when its degree is ≤ 4
   (w(4) = 0.62); two accounts sharing two identifiers of degree ≤ ~20 (a pooled device and a
   pooled card) link; two accounts sharing only mid-sized hubs under the cap (degree 30..200,
   w ≤ 0.29 each) do not, even when they share two of them.
5. Components larger than `max_group` (60) are split with Leiden (RB-configuration = weighted
   modularity at `resolution` 1.0, seeded), recursively, so that no group outgrows
   `max_group` unless Leiden finds no split at all.
6. A group is reported when it has at least `min_ring_size` accounts.

Parameters chosen with `bench/rings.py` (100k accounts, default and second presets; planted
rings matched at Jaccard ≥ 0.5):

    threshold  max_group   recall default / second   largest group default / second
    0.35       100         99.5% / 98.6%             65 / 56
    0.50       100         99.5% / 98.6%             65 / 56
    0.60       60          99.5% / 97.9%             54 / 51
    0.70       60          99.0% / 97.2%             57 / 46
    plain connected components (no hub handling): 14% recall, one group of 21,339 accounts.

Thresholds 0.35..0.5 score the same at 100k, where half the hubs exceed `hub_cap`, but on a
6,000-account world (every hub under the cap) they let accounts sharing two mid-sized hubs
glue rings together (11/16 planted rings found at 0.35, 12/16 at 0.45) while 0.6 finds 16/16:
0.6 is the hub-robust choice, for about half a point of recall on the second preset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringfence.graph.arrays import TYPE_CODE, GraphArrays, load_arrays
from ringfence.graph.model import ID_TYPES, IdentifierKey, RingIdentifier
from ringfence.graph.store import GraphStore

BURST_WINDOW_S = 2 * 86_400  # "created together": within two days of the group's median creation

# Detection reads the shared whole-graph arrays (labels as stored, benign identifiers flagged).
LinkGraph = GraphArrays


def load_graph(store: GraphStore, chunk_size: int = 200_000) -> LinkGraph:
    """The whole graph as read by detection (no account attributes); a sweep that also scores
    loads `graph.arrays.load_arrays` once with the scorer's attributes and reuses it."""
    return load_arrays(store, chunk_size=chunk_size)


def graph_from_links(
    links: Iterable[tuple[str, str, str]],
    accounts: Iterable[str] = (),
    created: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
    benign: Iterable[IdentifierKey] = (),
) -> LinkGraph:
    """A `LinkGraph` from (account, type, id) triples: for tests and pure-logic checks."""
    triples = sorted(set(links))
    ids = sorted({a for a, _, _ in triples} | set(accounts))
    index = {a: k for k, a in enumerate(ids)}
    keys = sorted({(t, i) for _, t, i in triples}, key=lambda k: (TYPE_CODE[k[0]], k[1]))
    kindex = {k: j for j, k in enumerate(keys)}
    bset = {(k.type, k.id) for k in benign}
    created = created or {}
    labels = labels or {}
    return GraphArrays(
        account_ids=ids,
        created=np.array([created.get(a, 0.0) for a in ids], dtype=np.float64),
        label=np.array([{"fraud": 1, "legit": 0}.get(labels.get(a, ""), -1) for a in ids], dtype=np.int8),
        labelled_at=np.full(len(ids), np.nan),
        id_type=np.array([TYPE_CODE[t] for t, _ in keys], dtype=np.int8),
        id_value=[i for _, i in keys],
        benign=np.array([k in bset for k in keys], dtype=bool),
        e_acc=np.array([index[a] for a, _, _ in triples], dtype=np.int32),
        e_id=np.array([kindex[(t, i)] for _, t, i in triples], dtype=np.int32),
        e_first=np.zeros(len(triples)),
    )


@dataclass(frozen=True)
class DetectionParams:
    hub_cap: int = 200
    min_ring_size: int = 3
    threshold: float = 0.6
    max_group: int = 60
    resolution: float = 1.0
    seed: int = 7
    hub_handling: bool = True  # False: plain connected components of the projection (baseline)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> DetectionParams:
        base = {"hub_cap": settings.hub_cap, "min_ring_size": settings.min_ring_size, "seed": settings.seed}
        base.update(overrides)
        return cls(**base)


def identifier_weight(degree: np.ndarray) -> np.ndarray:
    """w(d) = 1 / ln(1 + d); 0 for identifiers that link nobody (d < 2)."""
    d = degree.astype(np.float64)
    return np.where(d >= 2, 1.0 / np.log1p(np.maximum(d, 1.0)), 0.0)


@dataclass
class Group:
    members: np.ndarray  # account codes, ascending (= ascending account id)
    member_ids: list[str]
    identifiers: list[RingIdentifier]  # shared by >= 2 members, most shared first
    features: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.member_ids)


@dataclass
class Detection:
    groups: list[Group]
    linking: np.ndarray  # bool [Ni]: identifiers that link accounts
    stats: dict[str, float]


def _plain(g: LinkGraph, p: DetectionParams) -> Detection:
    """Baseline without hub handling: every shared identifier links (benign ones included).
    Components of the account–account projection are those of the bipartite graph, which
    is much cheaper to build than the projection when hubs are large."""
    degree = g.degree()
    linking = degree >= 2
    keep = linking[g.e_id]
    n = g.n_accounts
    bip = sp.csr_matrix(
        (np.ones(int(keep.sum())), (g.e_acc[keep], n + g.e_id[keep].astype(np.int64))),
        shape=(n + g.n_identifiers, n + g.n_identifiers),
    )
    _, comp = connected_components(bip, directed=False)
    label = comp[:n].astype(np.int64)
    sizes = np.bincount(label)
    ring_labels = np.flatnonzero(sizes >= p.min_ring_size)
    empty = sp.csr_matrix((n, n))
    groups = _describe(g, empty, label, ring_labels, linking)
    return Detection(groups, linking, {"groups": len(groups)})


def projection(g: LinkGraph, p: DetectionParams) -> tuple[sp.csr_matrix, np.ndarray]:
    """The weighted account–account projection (upper triangle, diagonal dropped) and the
    mask of linking identifiers."""
    degree = g.degree()
    linking = (degree >= 2) & (degree <= p.hub_cap) & ~g.benign
    w = identifier_weight(degree)
    keep = linking[g.e_id]
    ea, ei = g.e_acc[keep], g.e_id[keep]
    # Compact the identifier columns to the linking ones: a narrower B, a cheaper product.
    cols, ei_c = np.unique(ei, return_inverse=True)
    b = sp.csr_matrix(
        (np.ones(ea.size, dtype=np.float64), (ea, ei_c.astype(np.int64))), shape=(g.n_accounts, cols.size)
    )
    bw = b @ sp.diags(w[cols])
    a = sp.triu(bw @ b.T, k=1, format="csr")
    a.eliminate_zeros()
    return a, linking


def detect(g: LinkGraph, p: DetectionParams) -> Detection:
    if not p.hub_handling:
        return _plain(g, p)
    a, linking = projection(g, p)
    strong = a.multiply(a >= p.threshold).tocsr() if a.nnz else a
    strong.eliminate_zeros()
    n_comp, comp = connected_components(strong, directed=False)
    sizes = np.bincount(comp, minlength=n_comp)
    big = np.flatnonzero(sizes > p.max_group)
    label = comp.astype(np.int64)
    next_label = n_comp
    split_parts = 0
    if big.size:
        sym = (strong + strong.T).tocsr()
        for c in big.tolist():
            nodes = np.flatnonzero(comp == c)
            parts = _split(sym, nodes, p)
            split_parts += len(parts)
            for part in parts[1:]:
                label[part] = next_label
                next_label += 1
            # parts[0] keeps label c
    sizes = np.bincount(label, minlength=next_label)
    ring_labels = np.flatnonzero(sizes >= p.min_ring_size)
    groups = _describe(g, strong, label, ring_labels, linking)
    stats: dict[str, float] = {
        "linking_identifiers": int(linking.sum()),
        "hubs_dropped": int(((g.degree() > p.hub_cap) & ~g.benign).sum()),
        "benign_dropped": int(g.benign.sum()),
        "projection_edges": int(a.nnz),
        "strong_edges": int(strong.nnz),
        "components_split": int(big.size),
        "split_parts": split_parts,
        "groups": len(groups),
    }
    return Detection(groups, linking, stats)


def _split(sym: sp.csr_matrix, nodes: np.ndarray, p: DetectionParams, depth: int = 0) -> list[np.ndarray]:
    """Leiden communities of the sub-graph on `nodes`, recursively until each is ≤ max_group.
    Parts come out deterministic: ordered by size desc, then smallest member."""
    import igraph as ig
    import leidenalg

    sub = sym[nodes][:, nodes].tocoo()
    upper = sub.row < sub.col
    graph = ig.Graph(n=nodes.size, edges=np.column_stack([sub.row[upper], sub.col[upper]]).tolist())
    graph.es["weight"] = sub.data[upper].tolist()
    part = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=p.resolution,
        seed=p.seed,
        n_iterations=-1,
    )
    membership = np.asarray(part.membership, dtype=np.int64)
    out: list[np.ndarray] = []
    if membership.max(initial=0) == 0 or depth >= 8:
        return [nodes]
    for k in range(int(membership.max()) + 1):
        sub_nodes = nodes[membership == k]
        if sub_nodes.size > p.max_group:
            out.extend(_split(sym, sub_nodes, p, depth + 1))
        else:
            out.append(sub_nodes)
    out.sort(key=lambda x: (-x.size, int(x[0])))
    return out


def _describe(
    g: LinkGraph, strong: sp.csr_matrix, label: np.ndarray, ring_labels: np.ndarray, linking: np.ndarray
) -> list[Group]:
    """Members, tying identifiers and structural features of each reported group."""
    n_ring = ring_labels.size
    if n_ring == 0:
        return []
    gi = np.full(label.max() + 1, -1, dtype=np.int64)
    gi[ring_labels] = np.arange(n_ring)
    acc_group = gi[label]  # group index per account, -1 if in no group
    in_group = acc_group >= 0
    members_sorted = np.flatnonzero(in_group)
    order = np.argsort(acc_group[members_sorted], kind="stable")  # stable: members stay ascending
    members_sorted = members_sorted[order]
    sizes = np.bincount(acc_group[in_group], minlength=n_ring)
    starts = np.concatenate([[0], np.cumsum(sizes)])

    # Tying identifiers: linking identifiers held by >= 2 members of the same group.
    sel = in_group[g.e_acc] & linking[g.e_id]
    pair = acc_group[g.e_acc[sel]] * np.int64(g.n_identifiers) + g.e_id[sel].astype(np.int64)
    up, cnt = np.unique(pair, return_counts=True)
    tie = cnt >= 2
    up, cnt = up[tie], cnt[tie]
    t_group, t_id = up // g.n_identifiers, up % g.n_identifiers
    t_starts = np.searchsorted(t_group, np.arange(n_ring + 1))
    ties_per_group = np.diff(t_starts)
    tie_links = np.bincount(t_group, weights=cnt, minlength=n_ring)

    # Density: strong edges inside the group over possible pairs.
    coo = strong.tocoo()
    same = (acc_group[coo.row] >= 0) & (acc_group[coo.row] == acc_group[coo.col])
    inner = np.bincount(acc_group[coo.row[same]], minlength=n_ring)
    pairs = np.maximum(sizes * (sizes - 1) / 2, 1)
    weight_in = np.bincount(acc_group[coo.row[same]], weights=coo.data[same], minlength=n_ring)

    created = g.created[members_sorted]
    lab = g.label[members_sorted]
    types = g.id_type
    groups: list[Group] = []
    for k in range(n_ring):
        s, e = starts[k], starts[k + 1]
        members = members_sorted[s:e]
        c = np.sort(created[s:e])
        med = c[c.size // 2]
        ts, te = t_starts[k], t_starts[k + 1]
        ids_k, cnt_k = t_id[ts:te], cnt[ts:te]
        o = np.lexsort((ids_k, -cnt_k))
        identifiers = [
            RingIdentifier(ID_TYPES[int(types[j])], g.id_value[j], int(n))  # type: ignore[arg-type]
            for j, n in zip(ids_k[o].tolist(), cnt_k[o].tolist(), strict=True)
        ]
        size = int(e - s)
        feats = {
            "size": float(size),
            "density": float(inner[k] / pairs[k]),
            "tie_weight_per_member": float(weight_in[k] / size),
            "shared_identifiers": float(ties_per_group[k]),
            "shared_per_member": float(tie_links[k] / size),
            "tie_types": float(len({int(types[j]) for j in ids_k.tolist()})),
            "top_share": float(cnt_k.max(initial=0) / size),
            "span_h": float((c[-1] - c[0]) / 3600.0),
            "iqr_h": float((c[(3 * c.size) // 4] - c[c.size // 4]) / 3600.0),
            "burst": float(np.mean(np.abs(c - med) <= BURST_WINDOW_S)),
            "fraud_labels": float((lab[s:e] == 1).sum()),
            "legit_labels": float((lab[s:e] == 0).sum()),
        }
        groups.append(Group(members, [g.account_ids[m] for m in members.tolist()], identifiers, feats))
    groups.sort(key=lambda x: x.member_ids[0])
    return groups


def content_id(member_ids: list[str], salt: str = "") -> str:
    """The deterministic id of a ring from its (sorted) member ids at creation."""
    h = hashlib.sha256("\n".join(sorted(member_ids)).encode())
    if salt:
        h.update(salt.encode())
    return "r-" + h.hexdigest()[:12]


def plain_components(g: LinkGraph, min_size: int = 3) -> list[list[str]]:
    """Baseline: connected components of the unweighted projection, no hub handling."""
    det = detect(g, DetectionParams(hub_handling=False, min_ring_size=min_size))
    return [grp.member_ids for grp in det.groups]
