"""From the store to model tensors, the same way for training, batch sweeps and online calls.

Both paths reduce to a `RawGraph` (accounts ordered by id, edges account → identifier with
their first_seen, full identifier degrees) and then to a `GraphBatch` through one function,
`assemble`, so online and batch scores agree by construction:

- Hub cap: an identifier with more than `hub_cap` accounts receives messages only from its
  `hub_cap` earliest-linked accounts, ordered by (first_seen, account id), exactly the
  accounts `store.neighbourhood` expands. It still sends its message to every account.
- Benign identifiers (marked by an analyst) link nobody: they are dropped.
- Labels count only when recorded at or before `as_of`, and never for the account itself:
  each edge (a, i) carries the number of labelled fraud / legit accounts at `i` other than `a`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import torch

from gnn.features import TYPE_INDEX, FeatureSchema, encode_identifiers
from graph.model import ID_TYPES, AccountRow, IdentifierKey, Subgraph
from graph.store import GraphStore

EDGE_LABEL_DIM = 4
N_TYPES = len(ID_TYPES)


@dataclass
class RawGraph:
    account_ids: list[str]  # sorted
    x_acc: np.ndarray  # float32 [Na, Da]
    label: np.ndarray  # int8 [Na]: 1 fraud, 0 legit, -1 unknown (as of as_of)
    created: np.ndarray  # float64 [Na] epoch seconds
    id_keys: list[IdentifierKey]
    id_type: np.ndarray  # int64 [Ni]
    id_degree: np.ndarray  # int64 [Ni], full degree
    e_acc: np.ndarray  # int64 [E]
    e_id: np.ndarray  # int64 [E]
    e_first: np.ndarray  # float64 [E]


@dataclass
class GraphBatch:
    """Tensors for one forward pass.

    x_acc [Na, Da], x_id [Ni, Di], id_type [Ni]; messages account → identifier along
    (m_acc, m_id) [Em] (capped); identifier → account along (e_acc, e_id) [E] with per-edge
    leave-self-out label features e_lab [E, EDGE_LABEL_DIM].
    """

    x_acc: torch.Tensor
    x_id: torch.Tensor
    id_type: torch.Tensor
    m_acc: torch.Tensor
    m_id: torch.Tensor
    e_acc: torch.Tensor
    e_id: torch.Tensor
    e_lab: torch.Tensor
    # numpy views kept for baselines and reasons
    in_cap: np.ndarray
    fraud_at: np.ndarray  # [Ni] labelled fraud among messaging accounts
    legit_at: np.ndarray
    # derived by `finalize`: type blocks of identifiers (sorted by type), mean-aggregation
    # matrices (sparse CSR) and per-account label aggregates
    type_offsets: list[int] = field(default_factory=list)
    a_id: torch.Tensor | None = None  # [Ni, Na]: mean over an identifier's messaging accounts
    a_acc: torch.Tensor | None = None  # [Na, Ni]: Σ_type mean over an account's identifiers of that type
    lab_acc: torch.Tensor | None = None  # [Na, 2 * EDGE_LABEL_DIM]: mean and max of e_lab


def finalize(b: GraphBatch) -> GraphBatch:
    """Build the aggregation matrices and label aggregates from the edge lists (in place)."""
    na, ni = b.x_acc.shape[0], b.x_id.shape[0]
    types = b.id_type.numpy()
    if len(types) and np.any(np.diff(types) < 0):
        raise ValueError("identifiers must be ordered by type")
    b.type_offsets = [int(x) for x in np.searchsorted(types, np.arange(N_TYPES + 1), side="left")]
    m_acc, m_id = b.m_acc.numpy(), b.m_id.numpy()
    e_acc, e_id = b.e_acc.numpy(), b.e_id.numpy()
    n_msg = np.bincount(m_id, minlength=ni).astype(np.float32)
    b.a_id = _csr(m_id, m_acc, 1.0 / np.maximum(n_msg[m_id], 1.0), (ni, na))
    group = e_acc * N_TYPES + types[e_id]
    n_group = np.bincount(group, minlength=na * N_TYPES).astype(np.float32)
    b.a_acc = _csr(e_acc, e_id, 1.0 / np.maximum(n_group[group], 1.0), (na, ni))
    lab = b.e_lab.numpy()
    cnt = np.bincount(e_acc, minlength=na).astype(np.float32)
    sums = np.stack([np.bincount(e_acc, weights=lab[:, k], minlength=na) for k in range(lab.shape[1])], 1)
    mean = sums / np.maximum(cnt, 1.0)[:, None]
    mx = np.zeros((na, lab.shape[1]), dtype=np.float32)
    if len(e_acc):
        np.maximum.at(mx, e_acc, lab)
    b.lab_acc = torch.from_numpy(np.concatenate([mean, mx], axis=1).astype(np.float32))
    return b


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    order = np.lexsort((cols, rows))
    r, c, v = rows[order], cols[order], vals[order].astype(np.float32)
    crow = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=shape[0]), out=crow[1:])
    with warnings.catch_warnings():  # "sparse CSR support is in beta": we use only CSR @ dense
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(c.astype(np.int64)),
                                       torch.from_numpy(v), shape, check_invariants=False)


def label_codes(rows: Sequence[AccountRow], as_of: datetime) -> np.ndarray:
    t = as_of.timestamp()
    out = np.full(len(rows), -1, dtype=np.int8)
    for k, r in enumerate(rows):
        if r.label is not None and (r.labelled_at is None or r.labelled_at.timestamp() <= t):
            out[k] = 1 if r.label == "fraud" else 0
    return out


def assemble(raw: RawGraph, hub_cap: int, as_of: datetime) -> GraphBatch:
    ne, ni = len(raw.e_acc), len(raw.id_keys)
    # Messaging edges: the hub_cap earliest-linked accounts of each identifier.
    order = np.lexsort((raw.e_acc, raw.e_first, raw.e_id))
    sorted_id = raw.e_id[order]
    starts = np.searchsorted(sorted_id, np.arange(ni), side="left")
    rank_sorted = np.arange(ne) - starts[sorted_id]
    rank = np.empty(ne, dtype=np.int64)
    rank[order] = rank_sorted
    in_cap = rank < hub_cap
    m_acc, m_id = raw.e_acc[in_cap], raw.e_id[in_cap]

    # Identifier statistics over messaging accounts.
    n_msg = np.bincount(m_id, minlength=ni).astype(np.float64)
    first_min = np.full(ni, np.inf)
    np.minimum.at(first_min, raw.e_id, raw.e_first)
    first_min[~np.isfinite(first_min)] = as_of.timestamp()
    ref = as_of.timestamp()
    c = raw.created[m_acc] - ref
    mean = np.bincount(m_id, weights=c, minlength=ni) / np.maximum(n_msg, 1)
    var = np.bincount(m_id, weights=(c - mean[m_id]) ** 2, minlength=ni) / np.maximum(n_msg, 1)
    std = np.sqrt(np.maximum(var, 0.0))
    capped = raw.id_degree > hub_cap
    x_id = encode_identifiers(raw.id_type, raw.id_degree, first_min, std, capped, as_of)

    lab = raw.label
    fraud_m = (lab[m_acc] == 1).astype(np.float64)
    legit_m = (lab[m_acc] == 0).astype(np.float64)
    fraud_at = np.bincount(m_id, weights=fraud_m, minlength=ni)
    legit_at = np.bincount(m_id, weights=legit_m, minlength=ni)
    own_f = ((lab[raw.e_acc] == 1) & in_cap).astype(np.float64)
    own_l = ((lab[raw.e_acc] == 0) & in_cap).astype(np.float64)
    f = fraud_at[raw.e_id] - own_f
    l_ = legit_at[raw.e_id] - own_l
    others = np.maximum(raw.id_degree[raw.e_id] - 1, 0).astype(np.float64)
    e_lab = np.stack(
        [np.log1p(f), np.log1p(l_), f / (f + l_ + 1.0), (f > 0).astype(np.float64) * 1.0 / np.log2(others + 2.0)],
        axis=1,
    ).astype(np.float32)
    return finalize(GraphBatch(
        x_acc=torch.from_numpy(raw.x_acc),
        x_id=torch.from_numpy(x_id),
        id_type=torch.from_numpy(raw.id_type),
        m_acc=torch.from_numpy(m_acc),
        m_id=torch.from_numpy(m_id),
        e_acc=torch.from_numpy(raw.e_acc),
        e_id=torch.from_numpy(raw.e_id),
        e_lab=torch.from_numpy(e_lab),
        in_cap=in_cap,
        fraud_at=fraud_at,
        legit_at=legit_at,
    ))


# -- online: from a Subgraph -----------------------------------------------------------
def raw_from_subgraph(sub: Subgraph, schema: FeatureSchema, as_of: datetime) -> RawGraph:
    ids = sorted(sub.accounts)
    index = {a: k for k, a in enumerate(ids)}
    rows = [sub.accounts[a] for a in ids]
    keys = sorted((k for k in sub.identifiers if k not in sub.benign), key=lambda k: (TYPE_INDEX[k.type], k.id))
    kindex = {k: j for j, k in enumerate(keys)}
    e_acc, e_id, e_first = [], [], []
    for a, key, first in sub.edges:
        j = kindex.get(key)
        if j is None or a not in index:
            continue
        e_acc.append(index[a])
        e_id.append(j)
        e_first.append(first.timestamp())
    return RawGraph(
        account_ids=ids,
        x_acc=schema.encode(rows, as_of),
        label=label_codes(rows, as_of),
        created=np.array([r.created_at.timestamp() for r in rows], dtype=np.float64),
        id_keys=keys,
        id_type=np.array([TYPE_INDEX[k.type] for k in keys], dtype=np.int64),
        id_degree=np.array([sub.identifiers[k] for k in keys], dtype=np.int64),
        e_acc=np.array(e_acc, dtype=np.int64),
        e_id=np.array(e_id, dtype=np.int64),
        e_first=np.array(e_first, dtype=np.float64),
    )


# -- batch: the whole store ----------------------------------------------------------------
def iter_rows(store: GraphStore, chunk_size: int) -> Iterator[list[AccountRow]]:
    yield from store.stream_accounts(chunk_size=chunk_size)


def raw_from_store(
    store: GraphStore,
    schema: FeatureSchema | None,
    as_of: datetime,
    chunk_size: int = 50_000,
    keep_rows: bool = False,
    time_filter: bool = False,
) -> tuple[RawGraph, list[AccountRow]]:
    """Stream the whole graph into arrays; memory O(accounts + links), rows dropped per chunk.

    With `schema=None` the rows are kept (training fits the schema on them) and `x_acc` is
    left empty. With `time_filter`, accounts created and links first seen after `as_of` are
    dropped (point-in-time training).
    """
    t = as_of.timestamp()
    ids: list[str] = []
    xs: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    created: list[np.ndarray] = []
    kept: list[AccountRow] = []
    for chunk in store.stream_accounts(chunk_size=chunk_size):
        if time_filter:
            chunk = [r for r in chunk if r.created_at.timestamp() <= t]
        ids.extend(r.id for r in chunk)
        labels.append(label_codes(chunk, as_of))
        created.append(np.array([r.created_at.timestamp() for r in chunk], dtype=np.float64))
        if schema is not None:
            xs.append(schema.encode(chunk, as_of))
        if keep_rows or schema is None:
            kept.extend(chunk)
    index = {a: k for k, a in enumerate(ids)}
    benign = store.benign_identifiers()
    kindex: dict[tuple[str, str], int] = {}
    e_acc: list[int] = []
    e_id: list[int] = []
    e_first: list[float] = []
    for links in store.stream_links():
        for link in links:
            a = index.get(link.account_id)
            if a is None:
                continue
            ft = link.first_seen.timestamp()
            if time_filter and ft > t:
                continue
            key = (link.type, link.id)
            j = kindex.get(key)
            if j is None:
                if benign and IdentifierKey(link.type, link.id) in benign:
                    continue
                j = kindex[key] = len(kindex)
            e_acc.append(a)
            e_id.append(j)
            e_first.append(ft)
    # Identifiers sorted by (type index, id): a stable layout with contiguous type blocks.
    keys_unsorted = list(kindex)
    type_index: dict[str, int] = {str(k): v for k, v in TYPE_INDEX.items()}
    perm = sorted(range(len(keys_unsorted)), key=lambda j: (type_index[keys_unsorted[j][0]], keys_unsorted[j][1]))
    remap = np.empty(len(perm), dtype=np.int64)
    remap[np.array(perm, dtype=np.int64)] = np.arange(len(perm))
    keys = [IdentifierKey(*keys_unsorted[j]) for j in perm]  # type: ignore[arg-type]
    e_id_arr = remap[np.array(e_id, dtype=np.int64)] if e_id else np.zeros(0, dtype=np.int64)
    dim = schema.account_dim if schema is not None else 0
    raw = RawGraph(
        account_ids=ids,
        x_acc=np.concatenate(xs) if xs else np.zeros((len(ids), dim), dtype=np.float32),
        label=np.concatenate(labels) if labels else np.zeros(0, dtype=np.int8),
        created=np.concatenate(created) if created else np.zeros(0),
        id_keys=keys,
        id_type=np.array([TYPE_INDEX[k.type] for k in keys], dtype=np.int64),
        id_degree=np.bincount(e_id_arr, minlength=len(keys)).astype(np.int64),
        e_acc=np.array(e_acc, dtype=np.int64),
        e_id=e_id_arr,
        e_first=np.array(e_first, dtype=np.float64),
    )
    return raw, kept
