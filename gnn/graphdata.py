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
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric import EdgeIndex
from torch_geometric.utils import scatter

from ringfence.gnn.features import DAY, TYPE_INDEX, FeatureSchema, encode_identifiers
from ringfence.graph.arrays import GraphArrays, load_arrays
from ringfence.graph.model import ID_TYPES, AccountRow, IdentifierKey, Subgraph
from ringfence.graph.store import GraphStore

# [log1p fraud, log1p legit, fraud share, fraud / log2(others + 2), gap_log_days, first_holder, fraud_gap,
#  log1p co-created within each BURST_WINDOWS_DAYS]
EDGE_LABEL_DIM = 9
EVIDENCE_COLS = (0, 2, 3)  # the label-evidence columns: non-decreasing in the labelled-fraud count
# ... those of them no added (unlabelled) account can move: the share counts labelled accounts only
MONOTONE_EVIDENCE_COLS = (0, 2)
LEGIT_COL = 1
# Signed log-days from the account's creation to the earliest labelled fraud among the identifier's
# other accounts (> 0: the account was there first, a stolen card's owner); 0 without such fraud.
FRAUD_GAP_COL = 6
DEGREE_COL, AGE_COL, CAPPED_COL = 3, 4, 6  # x_id: log1p degree, log1p days since first link, above the hub cap
FIRST_HOLDER_COL = 5  # e_lab: the account linked to the identifier first
# Per link (a, i): how many of i's other messaging accounts were created within a window of a's
# creation. Timing that only rises as accounts join (a ring signing up together), unlike a spread or
# a gap, which a late joiner moves either way: `MonotoneRingGNN` and the presence-monotone trees read it.
BURST_WINDOWS_DAYS = (2.0, 14.0)
BURST_COLS = (7, 8)
STRUCT_COLS = (1, 4, 5)  # what the structural path reads of an edge without labelled fraud
STRUCT_LAB_DIM = 2 * len(STRUCT_COLS)  # their mean and max over an account's non-evidence edges
GAP_CAP_DAYS = 365.0
COHESION_DIM = 3  # `cohesion`: pairs of accounts bound by several identifiers
RING_EVIDENCE_DIM = 2  # `ring_evidence`: labelled fraud among the accounts bound to it by several identifiers
HOP2_DIM = 2  # log1p of labelled-fraud path counts at 1 and 2 account hops (leave-self-out)
N_TYPES = len(ID_TYPES)
# PyG relation names: account -> identifier of a type (messages into identifiers) and back.
LINKS = {t: ("account", "links", t) for t in ID_TYPES}
REV_LINKS = {t: (t, "rev_links", "account") for t in ID_TYPES}

# torch's sparse CSR/CSC tensors (under PyG's `EdgeIndex.matmul`) warn that they are in beta;
# their invariants are not checked (the indices are built here, sorted and in range).
torch.sparse.check_sparse_tensor_invariants.disable()
warnings.filterwarnings("ignore", message="Sparse CS[RC] tensor support is in beta state", category=UserWarning)


@dataclass
class RawGraph:
    account_ids: list[str]  # sorted
    x_acc: np.ndarray  # float32 [Na, Da]
    label: np.ndarray  # int8 [Na]: 1 fraud, 0 legit, -1 unknown (as of as_of)
    created: np.ndarray  # float64 [Na] epoch seconds
    id_keys: Sequence[IdentifierKey]
    id_type: np.ndarray  # int64 [Ni]
    id_degree: np.ndarray  # int64 [Ni], full degree
    e_acc: np.ndarray  # int64 [E]
    e_id: np.ndarray  # int64 [E]
    e_first: np.ndarray  # float64 [E]
    # Per-identifier reference time (epoch seconds) for its age; None: `as_of` for all. Point-in-time
    # training unions subgraphs each seen at its own time (`gnn.pointintime`).
    id_as_of: np.ndarray | None = None
    # Per-account reference time for `x_acc`'s age column (informational; the caller encodes).
    acc_as_of: np.ndarray | None = None


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
    # derived by `finalize`: type blocks of identifiers (sorted by type), PyG edge indices per
    # relation and per-account label aggregates
    type_offsets: list[int] = field(default_factory=list)
    # PyG edge indices per relation, each a column(destination)-sorted `EdgeIndex` with identifiers
    # numbered within their type block: LINKS[t] (account -> identifier, the hub-capped messaging
    # edges) and REV_LINKS[t] (identifier -> account, the account's edges without labelled fraud)
    # (up to SMALL_NNZ edges: plain [2, E] tensors, same order)
    msg_index: dict[tuple[str, str, str], torch.Tensor] = field(default_factory=dict)
    acc_index: dict[tuple[str, str, str], torch.Tensor] = field(default_factory=dict)
    # [Na, STRUCT_LAB_DIM]: mean and max of the STRUCT_COLS of e_lab over the account's edges
    # without labelled fraud (the GNN's structural path never reads label evidence)
    lab_acc: torch.Tensor | None = None
    # [Na, HOP2_DIM] from `assemble`; exact for accounts whose 2-hop neighbourhood is in the batch
    hop2: np.ndarray | None = None
    # [Na] the row whose messages an account's links carry: itself (None), or for the leave-one-out
    # copies of `score._with_loo_copies` (which send none) the account they copy
    origin: np.ndarray | None = None
    # [E, Da + 1] per edge (a, i) what a saw at i when it linked (`signup_view`)
    e_prior: torch.Tensor | None = None
    # [Na, COHESION_DIM] pairs of accounts bound by several identifiers: `account_cohesion` computes it
    # from the edge lists on first use (models without cohesion never pay for it)
    cohesion: torch.Tensor | None = None
    # [Na] bool: the account is labelled fraud (as of the batch's time); read only for *other*
    # accounts' evidence (`ring_evidence`), never for its own score
    fraud_acc: np.ndarray | None = None
    # [Na, RING_EVIDENCE_DIM] labelled fraud among accounts bound by several identifiers: computed by
    # `account_ring_evidence` on first use
    ring_evidence: torch.Tensor | None = None


def finalize(b: GraphBatch) -> GraphBatch:
    """Build the per-relation edge indices and label aggregates from the edge lists (in place)."""
    na = b.x_acc.shape[0]
    types = b.id_type.numpy()
    if len(types) and np.any(np.diff(types) < 0):
        raise ValueError("identifiers must be ordered by type")
    b.type_offsets = [int(x) for x in np.searchsorted(types, np.arange(N_TYPES + 1), side="left")]
    m_acc, m_id = b.m_acc.numpy(), b.m_id.numpy()
    b.msg_index = relation_index(m_acc, m_id, b.type_offsets, na, reverse=False)
    e_acc, e_id, lab = b.e_acc.numpy(), b.e_id.numpy(), b.e_lab.numpy()
    b.acc_index = account_index(e_acc, e_id, lab, b.type_offsets, na)
    b.lab_acc = account_labels(e_acc, lab, na)
    return b


def account_cohesion(b: GraphBatch) -> torch.Tensor:
    """`b.cohesion`, computed from the batch's edge lists (and `origin`) on first use and kept."""
    if b.cohesion is None:
        b.cohesion = torch.from_numpy(cohesion(b.e_acc.numpy(), b.e_id.numpy(), b.e_lab.numpy(), b.m_acc.numpy(),
                                               b.m_id.numpy(), b.x_acc.shape[0], b.origin))
    return b.cohesion


def account_ring_evidence(b: GraphBatch) -> torch.Tensor:
    """`b.ring_evidence`, computed from the batch's edge lists, `fraud_acc` and `origin` on first use and kept."""
    if b.ring_evidence is None:
        fraud = np.zeros(b.x_acc.shape[0], dtype=bool) if b.fraud_acc is None else b.fraud_acc
        b.ring_evidence = torch.from_numpy(ring_evidence(b.e_acc.numpy(), b.e_id.numpy(), fraud, b.m_acc.numpy(),
                                                         b.m_id.numpy(), b.x_acc.shape[0], b.origin))
    return b.ring_evidence


def relation_index(acc: np.ndarray, ident: np.ndarray, type_offsets: list[int], na: int,
                   reverse: bool) -> dict[tuple[str, str, str], torch.Tensor]:
    """Per identifier type, the distinct (account, identifier) edges as a PyG `EdgeIndex` sorted by
    destination (then source): account -> identifier (`LINKS`), or with `reverse` identifier ->
    account (`REV_LINKS`). Identifiers are numbered within their type block."""
    ni = type_offsets[-1]
    if reverse:
        key = acc * max(ni, 1) + ident  # destination account, then identifier (types are blocks of ident)
    else:
        key = ident * max(na, 1) + acc
    order = np.argsort(key, kind="stable")
    acc, ident = acc[order], ident[order]
    out: dict[tuple[str, str, str], EdgeIndex] = {}
    if reverse:
        tpos = np.searchsorted(np.asarray(type_offsets), ident, side="right") - 1
        by_type = np.argsort(tpos, kind="stable")  # keeps the account order within each type
        acc, ident, tpos = acc[by_type], ident[by_type], tpos[by_type]
        cuts = np.searchsorted(tpos, np.arange(N_TYPES + 1), side="left")
    else:
        cuts = np.searchsorted(ident, np.asarray(type_offsets), side="left")
    small = len(acc) <= SMALL_NNZ
    for k, t in enumerate(ID_TYPES):
        lo, hi = int(cuts[k]), int(cuts[k + 1])
        a = torch.from_numpy(np.ascontiguousarray(acc[lo:hi]))
        i = torch.from_numpy(np.ascontiguousarray(ident[lo:hi] - type_offsets[k]))
        n_t = type_offsets[k + 1] - type_offsets[k]
        data, size = (torch.stack([i, a]), (n_t, na)) if reverse else (torch.stack([a, i]), (na, n_t))
        # Online subgraphs (hundreds of edges): a plain [2, E] tensor, PyG's gather/scatter path;
        # EdgeIndex's sparse-tensor set-up costs more than the arithmetic there.
        out[REV_LINKS[t] if reverse else LINKS[t]] = data if small else EdgeIndex(data, sparse_size=size,
                                                                                  sort_order="col")
    return out


def account_index(e_acc: np.ndarray, e_id: np.ndarray, lab: np.ndarray, type_offsets: list[int],
                  na: int) -> dict[tuple[str, str, str], torch.Tensor]:
    """`GraphBatch.acc_index`: the accounts' edges without labelled fraud (`evidence_edges` false),
    per type. A link to an identifier shared with labelled fraud reaches the score through the
    monotone evidence path alone, so adding one can never lower the structural part."""
    keep = ~evidence_edges(lab)
    return relation_index(e_acc[keep], e_id[keep], type_offsets, na, reverse=True)


def account_labels(e_acc: np.ndarray, lab: np.ndarray, na: int) -> torch.Tensor:
    """`GraphBatch.lab_acc` of `na` accounts from their edges (each account's row depends on its
    own edges only, so accounts added later, leave-one-out copies, need only theirs): mean and max
    of the STRUCT_COLS over the edges without labelled fraud."""
    keep = ~evidence_edges(lab)
    e_acc, lab = e_acc[keep], lab[keep]
    cols = lab[:, list(STRUCT_COLS)] if lab.shape[1] >= EDGE_LABEL_DIM else lab[:, :0]
    return torch.from_numpy(np.concatenate(segment_mean_max(e_acc, cols, na), axis=1).astype(np.float32))


def identifier_mean(b: GraphBatch, x: torch.Tensor) -> torch.Tensor:
    """[Ni, D]: per identifier, the mean of `x` [Na, D] over its hub-capped messaging accounts."""
    parts = []
    for k, t in enumerate(ID_TYPES):
        ei = b.msg_index[LINKS[t]]
        if isinstance(ei, EdgeIndex):
            n_acc, n_t = ei.sparse_size()
            adj = EdgeIndex(ei.as_tensor().flip(0), sparse_size=(n_t, n_acc), sort_order="row")
            parts.append(adj.matmul(x, reduce="mean"))
        else:
            n_t = b.type_offsets[k + 1] - b.type_offsets[k]
            parts.append(scatter(x[ei[0]], ei[1], 0, dim_size=n_t, reduce="mean"))
    return torch.cat(parts)


def evidence_edges(lab: np.ndarray) -> np.ndarray:
    """bool [E]: the edge's identifier has labelled fraud among the other accounts (e_lab[:, 0] > 0)."""
    return np.asarray(lab[:, 0] > 0) if lab.shape[0] else np.zeros(0, dtype=bool)


def segment_mean_max(e_acc: np.ndarray, values: np.ndarray, na: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-account mean and max (0 for none; max floored at 0) of edge `values` [E, k]."""
    k = values.shape[1]
    cnt = np.bincount(e_acc, minlength=na).astype(np.float32)
    sums = np.stack([np.bincount(e_acc, weights=values[:, c], minlength=na) for c in range(k)], 1) \
        if k else np.zeros((na, 0))
    mean = sums / np.maximum(cnt, 1.0)[:, None]
    mx = np.zeros((na, k), dtype=np.float32)
    if len(e_acc) and k:
        # Per-account max by one sort and reduceat: np.maximum.at is an order of magnitude slower.
        by_acc = np.argsort(e_acc, kind="stable")
        acc_sorted = e_acc[by_acc]
        starts = np.flatnonzero(np.r_[True, acc_sorted[1:] != acc_sorted[:-1]])
        mx[acc_sorted[starts]] = np.maximum(np.maximum.reduceat(values[by_acc], starts, axis=0), 0.0)
    return mean, mx


# Up to this many edges (online subgraphs: hundreds) plain edge tensors and dense products are
# cheaper than sparse set-up (relation indices, 2-hop counts, 1-hop aggregates).
SMALL_NNZ = 50_000


def label_codes(rows: Sequence[AccountRow], as_of: datetime) -> np.ndarray:
    t = as_of.timestamp()
    out = np.full(len(rows), -1, dtype=np.int8)
    for k, r in enumerate(rows):
        if r.label is not None and (r.labelled_at is None or r.labelled_at.timestamp() <= t):
            out[k] = 1 if r.label == "fraud" else 0
    return out


def assemble(raw: RawGraph, hub_cap: int, as_of: datetime, finalized: bool = True) -> GraphBatch:
    """The batch of `raw`; `finalized=False` leaves `finalize` to a caller that extends the edge lists first."""
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
    # Earliest first_seen per identifier: the head of its run in `order` (np.minimum.at is slow).
    id_ref = raw.id_as_of if raw.id_as_of is not None else np.full(ni, as_of.timestamp())
    first_min = id_ref.copy()
    has = starts < np.r_[starts[1:], ne]
    first_min[has] = raw.e_first[order[starts[has]]]
    # Timing that one added account cannot swing: the spread of an identifier's creation times is
    # their median absolute deviation (one more account moves it by at most one order statistic),
    # and each link's gap is to the median of the identifier's *other* messaging accounts.
    spread, gap = robust_timing(raw.created, m_acc, m_id, raw.e_acc, raw.e_id, in_cap, ni)
    capped = raw.id_degree > hub_cap
    x_id = encode_identifiers(raw.id_type, raw.id_degree, first_min, spread, capped, id_ref)

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
    # First holder: the link is the identifier's earliest (a stolen card's owner, a phone's first user).
    first_holder = ((rank == 0) & (others > 0)).astype(np.float64)
    fgap = fraud_gap(raw.created, lab, m_acc, m_id, raw.e_acc, raw.e_id, ni)
    burst = np.log1p(co_created(raw.created, m_acc, m_id, raw.e_acc, raw.e_id, in_cap,
                                [w * DAY for w in BURST_WINDOWS_DAYS]))
    e_lab = np.stack(
        [np.log1p(f), np.log1p(l_), f / (f + l_ + 1.0), (f > 0).astype(np.float64) * 1.0 / np.log2(others + 2.0),
         np.log1p(np.minimum(gap / DAY, GAP_CAP_DAYS)), first_holder,
         np.sign(fgap) * np.log1p(np.minimum(np.abs(fgap) / DAY, GAP_CAP_DAYS)), *burst.T],
        axis=1,
    ).astype(np.float32)
    hop2 = hop2_counts(lab, m_acc, m_id, fraud_at, len(raw.account_ids), ni)
    b = GraphBatch(
        hop2=hop2,
        e_prior=torch.from_numpy(signup_view(raw.x_acc, raw.e_acc, raw.e_first, order, starts, hub_cap)),
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
        fraud_acc=lab == 1,
    )
    return finalize(b) if finalized else b


def signup_view(x_acc: np.ndarray, e_acc: np.ndarray, e_first: np.ndarray, order: np.ndarray, starts: np.ndarray,
                hub_cap: int) -> np.ndarray:
    """[E, Da + 1] float32: per edge (a, i) what a saw at i when it linked: the mean features of i's
    messaging accounts other than a linked no later than a (0 for none) and log1p of their number.

    Links are recorded when they happen, so a link made later is never at or before an existing
    one: no account added later moves these, whatever it claims (free weights may read them). Ties
    count as seen: links recorded together (one sign-up batch, or a tenant's history imported with
    one timestamp, as every Tolokers link is) saw each other; with strict "before" a backfilled graph
    would show every account an empty identifier.
    `order` sorts the edges by (identifier, first_seen, account); `starts[i]` is i's first position.
    """
    ne, da = len(e_acc), x_acc.shape[1]
    out = np.zeros((ne, da + 1), dtype=np.float32)
    if not ne:
        return out
    s_first = e_first[order]
    s_id_start = np.repeat(starts, np.diff(np.r_[starts, ne]))  # each sorted edge's identifier start
    new = np.r_[True, (s_id_start[1:] != s_id_start[:-1]) | (s_first[1:] != s_first[:-1])]
    tie_starts = np.flatnonzero(new)
    tie_end = np.r_[tie_starts[1:], ne][np.cumsum(new) - 1]
    # the identifier's links up to the end of a's tie, of which the first hub_cap message; less a itself
    lo = s_id_start
    hi = np.minimum(tie_end, s_id_start + hub_cap)
    pos = np.arange(ne)
    own = pos < hi
    seen = hi - lo - own
    # the sum over [lo, hi) without a's own row, as the prefix before a plus the ties after it: a
    # link with no tie gets exactly the bits of the prefix (cs[p] - cs[lo] + 0.0)
    mid = np.where(own, pos, hi)
    after = np.where(own, pos + 1, hi)
    xs = x_acc[e_acc[order]]
    sorted_out = np.empty_like(out)
    # float64 prefix sums (exact), a column at a time for bounded memory; all at once for small
    # batches, where the per-column calls are the cost (an online score: ~0.3 ms). Same bits.
    width = max(da, 1) if ne * da <= SMALL_NNZ else 1
    cs = np.zeros((ne + 1, width))
    for c in range(0, da, width):
        np.cumsum(xs[:, c : c + width], axis=0, dtype=np.float64, out=cs[1:])
        sorted_out[:, c : c + width] = ((cs[mid] - cs[lo]) + (cs[hi] - cs[after])) / np.maximum(seen, 1)[:, None]
    sorted_out[:, da] = np.log1p(seen)
    out[order] = sorted_out
    return out


def robust_timing(created: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray, e_acc: np.ndarray, e_id: np.ndarray,
                  in_cap: np.ndarray, ni: int) -> tuple[np.ndarray, np.ndarray]:
    """(spread [Ni], gap [E]) in seconds: per identifier the median absolute deviation of its
    messaging accounts' creation times; per edge (a, i) |created_a - median of i's messaging
    accounts other than a| (0 when there is no other). Both have bounded influence: one added
    account moves a median by at most one order statistic."""
    c = created[m_acc]
    by = np.lexsort((c, m_id))
    sv, sid = c[by], m_id[by]
    n = np.bincount(m_id, minlength=ni)
    start = np.r_[0, np.cumsum(n)[:-1]]
    med = _sorted_group_median(sv, start, n)
    dev = np.abs(c - med[m_id])
    by_dev = np.lexsort((dev, m_id))
    spread = _sorted_group_median(dev[by_dev], start, n)
    # Leave-self-out median for messaging edges: drop the account's own position r from its run.
    rank_m = np.empty(len(m_acc), dtype=np.int64)
    rank_m[by] = np.arange(len(m_acc)) - start[sid]
    m_edge = np.flatnonzero(in_cap)  # messaging edges are the in-cap edges, in the same order
    gap = np.zeros(len(e_acc))
    cnt = n[e_id]
    own_c = created[e_acc]
    # edges outside the cap: the median of all messaging accounts
    out = ~in_cap & (cnt > 0)
    gap[out] = np.abs(own_c[out] - med[e_id[out]])
    r = rank_m
    k = n[m_id] - 1  # others
    ok = k > 0
    lo, hi = (k - 1) // 2, k // 2
    s0 = start[m_id]
    def at(pos: np.ndarray) -> np.ndarray:
        return sv[np.minimum(s0 + pos + (pos >= r), len(sv) - 1)] if len(sv) else pos.astype(np.float64)
    loo_med = 0.5 * (at(lo) + at(hi))
    gap[m_edge[ok]] = np.abs(c[ok] - loo_med[ok])
    return spread, gap


def co_created(created: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray, e_acc: np.ndarray, e_id: np.ndarray,
               in_cap: np.ndarray, windows: Sequence[float]) -> np.ndarray:
    """[E, len(windows)] per edge (a, i) and window the number of i's messaging accounts other than
    a created within that many seconds of a (either side). An added account can only raise it."""
    out = np.zeros((len(e_acc), len(windows)))
    if not len(e_acc) or not len(m_acc):
        return out
    # One sorted int64 key per messaging membership, identifier then creation second, sorted once
    # for every window. Whole seconds first, so that the counts do not depend on which accounts the
    # graph holds (online subgraph or the whole store); the offset keeps every query bound inside
    # its identifier's range.
    ws = [int(np.floor(w)) for w in windows]
    sec = np.floor(created).astype(np.int64)
    sec = sec - (int(sec.min()) - max(ws) - 1)
    span = int(sec.max()) + max(ws) + 2
    keys = np.sort(m_id.astype(np.int64) * span + sec[m_acc])
    base = e_id.astype(np.int64) * span + sec[e_acc]
    own = in_cap.astype(np.int64)  # a itself, when it messages i
    for k, w in enumerate(ws):
        out[:, k] = np.searchsorted(keys, base + w, side="right") - np.searchsorted(keys, base - w, side="left") - own
    return out


def fraud_gap(created: np.ndarray, lab: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray, e_acc: np.ndarray,
              e_id: np.ndarray, ni: int) -> np.ndarray:
    """[E] seconds from each edge's account's creation to the earliest labelled-fraud account among
    the identifier's *other* messaging accounts (0 where there is none). It reads labelled accounts
    only, so no unlabelled account added later can move it."""
    is_f = lab[m_acc] == 1
    fa, fi = m_acc[is_f], m_id[is_f]
    t = created[fa]
    first = np.full(ni, np.inf)
    first_acc = np.full(ni, -1, dtype=np.int64)
    second = np.full(ni, np.inf)
    if len(fa):
        order = np.lexsort((fa, t, fi))  # by identifier, then time, then account (ties: stable)
        fi_s, t_s, fa_s = fi[order], t[order], fa[order]
        head = np.r_[True, fi_s[1:] != fi_s[:-1]]
        first[fi_s[head]] = t_s[head]
        first_acc[fi_s[head]] = fa_s[head]
        nxt = np.flatnonzero(~head & np.r_[False, head[:-1]])  # the second of each run
        second[fi_s[nxt]] = t_s[nxt]
    ref = np.where(first_acc[e_id] == e_acc, second[e_id], first[e_id])
    return np.where(np.isfinite(ref), ref - created[e_acc], 0.0)


def bound_pairs(a: np.ndarray, i: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray, na: int,
                origin: np.ndarray | None, chunk_pairs: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Per chunk of accounts [lo, hi): (lo, hi, row, p) with, for every pair of an account (row within
    the chunk) and another account b, p = P_ab, the number of the account's identifiers in the edges
    (a, i) where b is among the messaging accounts (m_acc, m_id). b ≠ the account (`origin[r]`: the
    account row r stands for; leave-one-out copies send no messages and must not count the account
    they copy). Accounts go in chunks of about `chunk_pairs` (account, messaging account)
    incidences: every account of a hub pairs with its `hub_cap` senders."""
    if not len(a) or not len(m_acc):
        return
    me = np.arange(na) if origin is None else origin
    if len(a) <= JOINED_PAIRS and (joined := _joined_pairs(a, i, m_acc, m_id, me, min(chunk_pairs, JOINED_PAIRS))):
        yield 0, na, *joined
        return
    ni = int(max(i.max(), m_id.max())) + 1
    acc_by_id = sp.csr_matrix((np.ones(len(m_acc)), (m_id, m_acc)), shape=(ni, int(m_acc.max()) + 1))
    ids_by_acc = sp.csr_matrix((np.ones(len(a)), (a, i)), shape=(na, ni))
    work = np.cumsum(np.bincount(a, weights=np.bincount(m_id, minlength=ni)[i], minlength=na))
    cuts = np.unique(np.r_[0, np.searchsorted(work, np.arange(chunk_pairs, work[-1], chunk_pairs)), na])
    for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        pairs = ids_by_acc[lo:hi] @ acc_by_id
        row = np.repeat(np.arange(hi - lo), np.diff(pairs.indptr))  # within the chunk
        keep = pairs.indices != me[lo + row]
        yield lo, hi, row[keep], pairs.data[keep]


# Up to this many (account, messaging account) incidences `bound_pairs` joins instead of multiplying
# sparse matrices: 0.18 against 0.47 ms a call at 1,600 (an online score), 0.34 against 0.49 at
# 5,000, but ×2–10 slower past 20,000 (np.unique sorts every incidence; the product sums as it goes).
JOINED_PAIRS = 8_000


def _joined_pairs(a: np.ndarray, i: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray, me: np.ndarray,
                  limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`bound_pairs` in one piece (an online subgraph: tens of edges), where two sparse matrices cost
    ~0.3 ms of set-up: a join by sort and one np.unique, the same integer counts in another order
    (their readers sum and take maxima). None past `limit` incidences."""
    by_id = np.argsort(m_id, kind="stable")
    ids_sorted = m_id[by_id]
    start = np.searchsorted(ids_sorted, i, "left")
    count = np.searchsorted(ids_sorted, i, "right") - start
    total = int(count.sum())
    if total > limit:
        return None
    row = np.repeat(a, count)
    b = m_acc[by_id[np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)]]
    keep = b != me[row]
    span = int(m_acc.max()) + 1
    pair, p = np.unique(row[keep].astype(np.int64) * span + b[keep], return_counts=True)
    return pair // span, p.astype(np.float64)


def cohesion(e_acc: np.ndarray, e_id: np.ndarray, lab: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray,
             na: int, origin: np.ndarray | None = None, chunk_pairs: int = 20_000_000) -> np.ndarray:
    """[na, COHESION_DIM] float32: how tightly the account's identifiers without labelled fraud bind it
    to the same other accounts. With P_ab the number of those identifiers where b is among the
    messaging (hub-capped) accounts, b ≠ a: log1p max_b P_ab, log1p #{b: P_ab ≥ 2}, log1p #{b: P_ab ≥ 3}.

    A ring's members share a device, a card and a bank account with the *same* accomplices; a
    household shares one or two, and hub users each share a hub with strangers. An added account only
    adds pairs (presence-monotone), and P_ab needs only a's identifiers' messaging accounts: exact from
    a 1-hop subgraph (`bound_pairs`, which also says what `origin` and `chunk_pairs` do).
    """
    out = np.zeros((na, COHESION_DIM), dtype=np.float32)
    st = ~evidence_edges(lab)
    for lo, hi, row, p in bound_pairs(e_acc[st], e_id[st], m_acc, m_id, na, origin, chunk_pairs):
        _, best = segment_mean_max(row, p[:, None], hi - lo)
        out[lo:hi, 0] = np.log1p(best[:, 0])
        out[lo:hi, 1] = np.log1p(np.bincount(row, weights=(p >= 2), minlength=hi - lo))
        out[lo:hi, 2] = np.log1p(np.bincount(row, weights=(p >= 3), minlength=hi - lo))
    return out


def ring_evidence(e_acc: np.ndarray, e_id: np.ndarray, fraud_acc: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray,
                  na: int, origin: np.ndarray | None = None, chunk_pairs: int = 20_000_000) -> np.ndarray:
    """[na, RING_EVIDENCE_DIM] float32: links into a ring with labelled fraud. With Q_ab the number of
    the account's identifiers (all of them) where a labelled-fraud account b ≠ a is among the
    messaging accounts: log1p #{b: Q_ab ≥ 2}, log1p #{b: Q_ab ≥ 3}.

    One identifier shared with a fraudster is what a stolen card's owner has too; two or three shared
    with the same fraudster (their device *and* card *and* bank account) is membership of their
    ring, so this is the 1-hop, label-evidence face of a ring. Why not the sweep's published rings:
    detection (weights 1/ln(1+degree), Leiden) is not monotone in presence, so an added account could
    move a member out of its ring and lower its risk, and a model trained before the first sweep would
    see no rings at all. These counts rise with every labelled-fraud account and every added link
    (evidence-first and presence-monotone), never read the account's own label, and need only its
    identifiers' messaging accounts: exact from a 1-hop subgraph, online equal to batch.
    """
    out = np.zeros((na, RING_EVIDENCE_DIM), dtype=np.float32)
    fraud_m = fraud_acc[m_acc]
    for lo, hi, row, q in bound_pairs(e_acc, e_id, m_acc[fraud_m], m_id[fraud_m], na, origin, chunk_pairs):
        out[lo:hi, 0] = np.log1p(np.bincount(row, weights=(q >= 2), minlength=hi - lo))
        out[lo:hi, 1] = np.log1p(np.bincount(row, weights=(q >= 3), minlength=hi - lo))
    return out


def _sorted_group_median(sv: np.ndarray, start: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of each run sv[start:start+n] (sorted within runs); 0 for empty runs."""
    out = np.zeros(len(n))
    has = n > 0
    if len(sv):
        out[has] = 0.5 * (sv[start[has] + (n[has] - 1) // 2] + sv[start[has] + n[has] // 2])
    return out


def hop2_counts(lab: np.ndarray, m_acc: np.ndarray, m_id: np.ndarray, fraud_at: np.ndarray, na: int, ni: int,
                ) -> np.ndarray:
    """[Na, 2] log1p of labelled-fraud walk counts over hub-capped memberships, never using the
    account's own label: f1 = Σ_b P_ab y_b, f2 = Σ_b P_ab Σ_(c≠a) P_bc y_c, with P_ab the number of
    identifiers where both a and b are among the hub_cap earliest accounts (b ≠ a).

    Exact for an account when its 2-hop neighbourhood is in the graph (online: `hops=2`).
    """
    y = (lab == 1).astype(np.float64)
    f1 = np.bincount(m_acc, weights=fraud_at[m_id] - y[m_acc], minlength=na)
    s = np.bincount(m_id, weights=f1[m_acc], minlength=ni)
    pf1 = np.bincount(m_acc, weights=s[m_id] - f1[m_acc], minlength=na)
    # walks a -> b -> a: y_a * Σ_(b≠a) P_ab², for the labelled-fraud accounts only
    rows = np.flatnonzero(y > 0)
    if rows.size and len(m_acc) and na * ni <= 4 * SMALL_NNZ:
        # online subgraphs: a dense incidence matrix (integer counts, so exactly the sparse result)
        inc_d = np.zeros((na, ni))
        inc_d[m_acc, m_id] = 1.0  # (account, identifier) memberships are distinct
        q_d = inc_d[rows] @ inc_d.T
        deg = inc_d[rows].sum(axis=1)
        pf1[rows] -= (q_d**2).sum(axis=1) - deg**2
    elif rows.size and len(m_acc):
        inc = sp.csr_matrix((np.ones(len(m_acc)), (m_acc, m_id)), shape=(na, ni))
        q = (inc[rows] @ inc.T).tocsr()
        q.data **= 2
        deg = np.asarray(inc[rows].sum(axis=1)).ravel()
        pf1[rows] -= np.asarray(q.sum(axis=1)).ravel() - deg**2
    return np.log1p(np.stack([np.maximum(f1, 0.0), np.maximum(pf1, 0.0)], axis=1)).astype(np.float32)


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

class _Keys(Sequence[IdentifierKey]):
    """Identifier keys built on access (a 1M-account graph has millions of identifiers)."""

    def __init__(self, id_type: np.ndarray, values: list[str], index: np.ndarray) -> None:
        self.id_type, self.values, self.rows = id_type, values, index

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, j):  # type: ignore[no-untyped-def, override]
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        return IdentifierKey(ID_TYPES[int(self.id_type[j])], self.values[int(self.rows[j])])


def raw_from_arrays(g: GraphArrays, as_of: datetime, time_filter: bool = False) -> RawGraph:
    """The `RawGraph` of the whole store: benign identifiers dropped, labels as of `as_of`;
    with `time_filter`, accounts created and links first seen after `as_of` dropped too.
    `x_acc` is left empty (the caller encodes)."""
    t = as_of.timestamp()
    keep_acc = g.created <= t if time_filter else np.ones(len(g.account_ids), dtype=bool)
    acc_new = np.cumsum(keep_acc) - 1
    e_ok = keep_acc[g.e_acc] & ~g.benign[g.e_id]
    if time_filter:
        e_ok &= g.e_first <= t
    e_acc = acc_new[g.e_acc[e_ok]].astype(np.int64)
    e_id_old = g.e_id[e_ok].astype(np.int64)
    used = np.zeros(len(g.id_value), dtype=bool)
    used[e_id_old] = True
    id_new = np.cumsum(used) - 1
    e_id = id_new[e_id_old]
    used_idx = np.flatnonzero(used)
    id_type = g.id_type[used_idx].astype(np.int64)
    keys = _Keys(id_type, g.id_value, used_idx)
    ids = g.account_ids if keep_acc.all() else [a for a, k in zip(g.account_ids, keep_acc.tolist(), strict=True) if k]
    return RawGraph(
        account_ids=ids,
        x_acc=np.zeros((len(ids), 0), dtype=np.float32),
        label=g.labels_as_of(t)[keep_acc],
        created=g.created[keep_acc],
        id_keys=keys,
        id_type=id_type,
        id_degree=np.bincount(e_id, minlength=len(keys)).astype(np.int64),
        e_acc=e_acc,
        e_id=e_id,
        e_first=g.e_first[e_ok],
    )


def raw_from_store(
    store: GraphStore,
    schema: FeatureSchema | None,
    as_of: datetime,
    chunk_size: int = 200_000,
    time_filter: bool = False,
) -> tuple[RawGraph, list[dict[str, Any]]]:
    """The whole graph as a `RawGraph` (features encoded with `schema`).

    With `schema=None` the attribute dicts are returned (training fits the schema on them)
    and `x_acc` is left empty. With `time_filter`, accounts created and links first seen
    after `as_of` are dropped (point-in-time training).
    """
    g = load_arrays(store, attributes=schema if schema is not None else True, chunk_size=chunk_size)
    raw = raw_from_arrays(g, as_of, time_filter)
    keep = g.created <= as_of.timestamp() if time_filter else None
    attrs: list[dict[str, Any]] = []
    if schema is not None:
        assert g.columns is not None
        cols = g.columns if keep is None else {k: v[keep] for k, v in g.columns.items()}
        raw.x_acc = schema.encode_columns(raw.created, cols, as_of)
    else:
        assert g.attributes is not None
        attrs = g.attributes if keep is None else [a for a, k in zip(g.attributes, keep.tolist(), strict=True) if k]
    return raw, attrs
