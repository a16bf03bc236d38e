"""Heterogeneous message passing over account ↔ card / device / bank_account, built from PyG.

A 2-layer bipartite GraphSAGE made of torch_geometric layers: `HeteroConv({relation: SAGEConv(
aggr="mean")}, aggr="sum")`, one relation per identifier type and direction, on per-relation
destination-sorted `EdgeIndex`es (`GraphBatch.msg_index` / `acc_index`), so that PyG aggregates each
relation by one sparse product (`SAGE`, its fused path) rather than an [E, H] gather and scatter:
full-batch training and 1M-account sweeps stay fast on 2 CPU cores. One deliberate extension
(`PresentBiasSAGE`): an account adds a relation's bias only if it has identifiers of that type
(stock SAGEConv adds it to empty means too). `tests/unit/test_gnn_pyg.py` checks both extensions,
and the whole embedding, against stock PyG with the same weights.

    layer 1:  identifier_i  ← mean of its (hub-capped) accounts' states, weights per identifier type
              account_a     ← Σ_type mean of its identifiers' states (relation-specific weights)
    layer 2:  account_a     ← Σ_type mean of its identifiers' layer-1 states
                              + its leave-self-out label proximity (mean and max over its identifiers
                                of the labelled fraud / legit accounts there, itself excluded)

An account's output thus depends on itself, its identifiers (with their full degree) and the
accounts sharing them: exactly a 1-hop `store.neighbourhood`. With `ModelConfig.hop2` the account
also reads its own 2-hop labelled-fraud walk counts (`graphdata.hop2_counts`, leave-self-out),
appended to its label inputs only (never sent to neighbours): online scoring then needs `hops=2`.
Degree awareness: messages into an identifier are averaged (a hub cannot drown its neighbours
by sheer count), identifiers carry their log-degree and age, and accounts average per
identifier type.

No node ids are embedded: new accounts and new identifiers are scored without retraining.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric import EdgeIndex
from torch_geometric.nn import HeteroConv, MessagePassing, SAGEConv
from torch_geometric.typing import Adj, OptPairTensor, Size
from torch_geometric.utils import degree, scatter

from ringfence.gnn.graphdata import (
    AGE_COL,
    BURST_COLS,
    CAPPED_COL,
    COHESION_DIM,
    DEGREE_COL,
    EVIDENCE_COLS,
    FIRST_HOLDER_COL,
    FRAUD_GAP_COL,
    HOP2_DIM,
    LEGIT_COL,
    LINKS,
    MONOTONE_EVIDENCE_COLS,
    REV_LINKS,
    RING_EVIDENCE_DIM,
    STRUCT_COLS,
    STRUCT_LAB_DIM,
    GraphBatch,
    account_cohesion,
    account_ring_evidence,
)
from ringfence.graph.model import ID_TYPES

N_TYPES = len(ID_TYPES)


@dataclass
class ModelConfig:
    account_dim: int
    identifier_dim: int
    hidden: int = 32
    dropout: float = 0.1
    hop2: bool = False  # own 2-hop label counts as inputs (online scoring then needs hops=2)
    # False: the structural path ignores creation-time spreads and gaps (a world written by others
    # need not make rings bursty); they still tighten the evidence gate.
    structural_timing: bool = True
    # True: `MonotoneRingGNN`, whose score no added account can lower (see its docstring). False
    # (bundles written before it existed): `RingGNN`.
    presence_monotone: bool = False
    # With `presence_monotone`: each link also reads what the account saw there when it linked
    # (`graphdata.signup_view`), with free weights. False: bundles written before it existed.
    signup_view: bool = False
    # With `presence_monotone`: the account's cohesion (`graphdata.cohesion`: other accounts bound to it
    # by several identifiers) through non-negative weights. False: bundles written before it existed.
    cohesion: bool = False
    # With `presence_monotone`: co-creation counts (`graphdata.BURST_COLS`) through non-negative weights.
    # True for bundles written before the switch existed (they read them).
    co_creation: bool = True
    # Links into a ring with labelled fraud (`graphdata.ring_evidence`: labelled-fraud accounts bound to
    # this one by two or three identifiers) in the evidence term, through non-negative weights. False:
    # bundles written before it existed.
    ring_evidence: bool = False
    # With `presence_monotone`: the evidence gate also reads how many accounts the identifier had when
    # the account linked to it (`graphdata.signup_view`'s count), a fact no later link moves: joining a
    # crowded identifier (a hub) that later carries fraud is weaker evidence than sharing a fresh one.
    # False: bundles written before it existed.
    evidence_prior: bool = False
    # The trees also read the share of fraud among the labelled accounts at all the account's identifiers
    # (`baselines.hop1_features`): labels only, so no added account moves it. False: bundles before it.
    label_share: bool = False
    # The trees weigh an identifier's labelled fraud against its labelled legit users (`baselines.hop1_features`):
    # with `label_share` each identifier adds its fraud share f / (f + l) to it, not its count f; with
    # `evidence_prior` the accounts an identifier held when the account linked are at least f + l. Users
    # of a hub with many labelled fraudsters among many more labelled legit users then read weak evidence
    # (labels only: no added account moves either). False: bundles written before it existed.
    legit_dilutes: bool = False

    @property
    def label_dim(self) -> int:
        """Width of the structural path's per-account inputs (`GraphBatch.lab_acc`): no label evidence."""
        return STRUCT_LAB_DIM

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def scatter_mean(src: Tensor, index: Tensor, size: int) -> Tensor:
    """Mean of rows of `src` [E, H] grouped by `index` [E] into [size, H]; empty groups are 0."""
    out = src.new_zeros((size, src.shape[1])).index_add_(0, index, src)
    count = src.new_zeros(size).index_add_(0, index, torch.ones_like(index, dtype=src.dtype))
    return out / count.clamp(min=1.0).unsqueeze(1)


def scatter_max(src: Tensor, index: Tensor, size: int) -> Tensor:
    """Max of rows of `src` [E, H] grouped by `index` [E] into [size, H]; empty groups are 0."""
    out = src.new_zeros((size, src.shape[1]))
    if src.shape[0] == 0:
        return out
    return out.scatter_reduce(0, index.unsqueeze(1).expand_as(src), src, reduce="amax", include_self=False)


def destination_major(edge_index: EdgeIndex) -> EdgeIndex:
    """The adjacency [N_dst, N_src] of a destination-sorted [src, dst] `EdgeIndex`, sorted by row.

    Built afresh rather than by `EdgeIndex.flip` or `matmul(transpose=True)`: in PyG 2.8 both can
    hand the backward pass index pointers of the wrong side for a non-square bipartite relation
    (found by training; caught as shape errors with `torch.sparse.check_sparse_tensor_invariants`).
    """
    n_src, n_dst = edge_index.sparse_size()
    return EdgeIndex(edge_index.as_tensor().flip(0), sparse_size=(n_dst, n_src), sort_order="row")


class SAGE(SAGEConv):
    """PyG's mean `SAGEConv`, aggregating a column-sorted `EdgeIndex` by one sparse product.

    Stock `SAGEConv` gathers an [E, H] message tensor and scatters it; on a sorted `EdgeIndex` this
    subclass takes PyG's fused path (`EdgeIndex.matmul`, torch CSR), the same maths.
    """

    SUPPORTS_FUSED_EDGE_INDEX: Final[bool] = True

    def message_and_aggregate(self, edge_index: Adj, x: OptPairTensor) -> Tensor:  # type: ignore[override]
        if isinstance(edge_index, EdgeIndex):
            return destination_major(edge_index).matmul(other=x[0], reduce="mean")  # type: ignore[no-any-return]
        return super().message_and_aggregate(edge_index, x)  # type: ignore[no-any-return]


class PresentBiasSAGE(SAGE):
    """A relation's mean `SAGEConv` (no root weight) whose bias is added only to destination
    nodes with at least one neighbour in the relation (stock PyG adds it to empty means too).

    forward((x_src [Ns, H], x_dst [Nd, H]), edge_index [2, E] sorted by destination) -> [Nd, H]
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__((in_channels, in_channels), out_channels, aggr="mean", root_weight=False, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if hasattr(self, "bias"):
            bound = 1.0 / self.in_channels[0] ** 0.5  # type: ignore[index]
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: OptPairTensor, edge_index: Adj, size: Size = None) -> Tensor:  # type: ignore[override]
        out = super().forward(x, edge_index, size)
        dst = edge_index.as_tensor()[1] if isinstance(edge_index, EdgeIndex) else edge_index[1]
        has = degree(dst, out.shape[0]) > 0
        return out + has.unsqueeze(1).to(out.dtype) * self.bias


def _hetero(convs: dict[tuple[str, str, str], MessagePassing]) -> HeteroConv:
    with warnings.catch_warnings():
        # Each layer updates one side of the bipartite graph only, which HeteroConv warns about.
        warnings.filterwarnings("ignore", message="There exist node types")
        return HeteroConv(convs, aggr="sum")  # type: ignore[arg-type]


def _blocks(h_id: Tensor, type_offsets: list[int]) -> dict[str, Tensor]:
    return {t: h_id[type_offsets[k]:type_offsets[k + 1]] for k, t in enumerate(ID_TYPES)}


class IdentifierUpdate(nn.Module):
    """Identifier ← mean of its hub-capped accounts: `HeteroConv` of one stock mean `SAGEConv`
    per relation (account, links, type).

    Args:
        hidden: width H of account and identifier states.

    forward(h_id [Ni, H], h_acc [Na, H], b: GraphBatch) -> [Ni, H]
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.conv = _hetero({LINKS[t]: SAGE((hidden, hidden), hidden, aggr="mean") for t in ID_TYPES})

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()

    def forward(self, h_id: Tensor, h_acc: Tensor, b: GraphBatch) -> Tensor:
        out = self.conv({"account": h_acc, **_blocks(h_id, b.type_offsets)}, dict(b.msg_index))
        return torch.relu(torch.cat([out[t] for t in ID_TYPES]))


class AccountUpdate(nn.Module):
    """Account ← its own state + Σ over relations of the mean message from its identifiers of that
    type (`HeteroConv` of `PresentBiasSAGE`, summed) + extra inputs.

    Args:
        hidden: width H of states.
        extra_dim: width of extra per-account inputs (label proximity), 0 for none.

    forward(h_acc [Na, H], h_id [Ni, H], b: GraphBatch, extra [Na, extra_dim] | None) -> [Na, H]
    """

    def __init__(self, hidden: int, extra_dim: int = 0) -> None:
        super().__init__()
        self.self_lin = nn.Linear(hidden, hidden)
        self.conv = _hetero({REV_LINKS[t]: PresentBiasSAGE(hidden, hidden) for t in ID_TYPES})
        self.extra_lin = nn.Linear(extra_dim, hidden) if extra_dim else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.self_lin.reset_parameters()
        self.conv.reset_parameters()
        if self.extra_lin is not None:
            self.extra_lin.reset_parameters()

    def forward(self, h_acc: Tensor, h_id: Tensor, b: GraphBatch, extra: Tensor | None = None) -> Tensor:
        msgs = self.conv({"account": h_acc, **_blocks(h_id, b.type_offsets)}, dict(b.acc_index))
        out = self.self_lin(h_acc) + msgs["account"]
        if self.extra_lin is not None and extra is not None:
            out = out + self.extra_lin(extra)
        return torch.relu(out)


SPREAD_COL = 5  # x_id: spread_log_mad_days
GAP_COL = 4  # e_lab: gap_log_days


def _mask(width: int, zero: list[int]) -> Tensor:
    m = torch.ones(width)
    m[zero] = 0.0
    return m


# `MonotoneRingGNN`'s gate in its label inputs: rising in log1p fraud, falling in log1p legit and in
# the signed gap to the earliest labelled fraud (> 0: the account was there first, a stolen card's owner).
GATE_SIGNS = (1.0, -1.0, -1.0)

# The evidence gate never falls below this: timing and structure may discount the evidence of an
# identifier shared with labelled fraud (a stolen card's owner), never switch it off.
GATE_FLOOR = 0.25


class RingGNN(nn.Module):
    """Account fraud scorer over the account–identifier graph: logit = structure + evidence.

    - structure: the 2-layer bipartite GNN over the account's identifiers *without* labelled fraud
      (their states, degrees, timing, legit labels), plus the account's own features;
    - evidence: Σ over the account's identifiers with labelled fraud (other than itself) of
      gate(identifier, link timing) · (w · evidence), w = softplus(·) ≥ 0 and the evidence columns
      (log1p fraud count, fraud share, fraud / log2(others + 2); 2-hop fraud counts with `hop2`)
      non-decreasing in labelled fraud, plus with `ring_evidence` w' · (links into a ring with
      labelled fraud, `graphdata.ring_evidence`), w' ≥ 0; gate in [GATE_FLOOR, 1] reads no label evidence.

    So by construction adding a link to an identifier shared with labelled fraud, or a fraud
    label to an account sharing one, never lowers the logit, and such an identifier's
    leave-one-out reason weight is never negative.

    Args:
        config: input widths, hidden width H, dropout.

    forward(batch: GraphBatch) -> logits [Na]; `embed(batch)` -> account states [Na, H].
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        h = config.hidden
        self.config = config
        self.acc_in = nn.Linear(config.account_dim, h)
        self.id_in = nn.Linear(config.identifier_dim, h)
        self.id1 = IdentifierUpdate(h)
        self.acc1 = AccountUpdate(h)
        self.acc2 = AccountUpdate(h, extra_dim=config.label_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Sequential(nn.Linear(h + config.account_dim + config.label_dim, h), nn.ReLU(), nn.Linear(h, 1))
        gate_dim = config.identifier_dim + len(STRUCT_COLS)
        self.gate = nn.Sequential(nn.Linear(gate_dim, 16), nn.ReLU(), nn.Linear(16, 1))
        self.ev_raw = nn.Parameter(torch.zeros(len(EVIDENCE_COLS)))
        self.hop2_raw = nn.Parameter(torch.zeros(HOP2_DIM))
        self.ring_raw = nn.Parameter(torch.zeros(RING_EVIDENCE_DIM)) if config.ring_evidence else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for block in (self.acc_in, self.id_in, self.id1, self.acc1, self.acc2):
            block.reset_parameters()
        for seq in (self.head, self.gate):
            for layer in seq:
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
        with torch.no_grad():
            self.ev_raw.fill_(0.5)
            self.hop2_raw.fill_(-2.0)
            if self.ring_raw is not None:
                self.ring_raw.fill_(0.0)

    def structural_x_id(self, b: GraphBatch) -> Tensor:
        if self.config.structural_timing:
            return b.x_id
        return b.x_id * _mask(b.x_id.shape[1], [SPREAD_COL])

    def embed(self, b: GraphBatch) -> Tensor:
        assert b.lab_acc is not None
        a0 = torch.relu(self.acc_in(b.x_acc))
        i0 = torch.relu(self.id_in(self.structural_x_id(b)))
        i1 = self.id1(i0, a0, b)
        a1 = self.acc1(a0, i0, b)
        return self.acc2(a1, i1, b, self.own_labels(b))

    def own_labels(self, b: GraphBatch) -> Tensor:
        """The account's own structural inputs (legit labels and timing over edges without labelled fraud)."""
        assert b.lab_acc is not None
        lab = b.lab_acc[:, : self.config.label_dim]
        if self.config.structural_timing:
            return lab
        gap = STRUCT_COLS.index(GAP_COL)
        return lab * _mask(lab.shape[1], [gap, gap + len(STRUCT_COLS)])

    def evidence_weights(self) -> Tensor:
        """The non-negative weights of the evidence columns."""
        return nn.functional.softplus(self.ev_raw)

    # the e_lab columns the evidence term weighs (each non-decreasing in labelled fraud)
    evidence_cols: tuple[int, ...] = EVIDENCE_COLS

    def gate_inputs(self, b: GraphBatch) -> Tensor:
        """[E, ·] what the evidence gate reads of each edge: no label evidence."""
        return torch.cat([b.x_id[b.e_id], b.e_lab[:, list(STRUCT_COLS)]], dim=1)

    def gate_logit(self, b: GraphBatch) -> Tensor:
        """[E] the evidence gate's logit per edge."""
        return self.gate(self.gate_inputs(b)).squeeze(1)

    def evidence(self, b: GraphBatch) -> Tensor:
        """[Na] the non-negative evidence term of the logit (see the class docstring)."""
        n = b.x_acc.shape[0]
        lab = b.e_lab
        ev = (lab[:, 0] > 0).to(lab.dtype)
        value = (lab[:, list(self.evidence_cols)] * ev.unsqueeze(1)) @ self.evidence_weights()
        gate = GATE_FLOOR + (1.0 - GATE_FLOOR) * torch.sigmoid(self.gate_logit(b))
        out = lab.new_zeros(n).index_add_(0, b.e_acc, gate * value)
        if self.config.hop2 and b.hop2 is not None:
            hop2 = torch.as_tensor(b.hop2, dtype=out.dtype)
            out = out + hop2 @ nn.functional.softplus(self.hop2_raw)
        if self.ring_raw is not None:  # labelled fraud bound to the account by several identifiers
            out = out + account_ring_evidence(b).to(out.dtype) @ nn.functional.softplus(self.ring_raw)
        return out

    def structure_logit(self, b: GraphBatch, h: Tensor | None = None) -> Tensor:
        h = self.dropout(self.embed(b)) if h is None else h
        return self.head(torch.cat([h, b.x_acc, self.own_labels(b)], dim=1)).squeeze(1)

    def forward(self, b: GraphBatch) -> Tensor:
        return self.structure_logit(b) + self.evidence(b)


def build_gnn(config: ModelConfig) -> RingGNN:
    """The model class a config names."""
    return MonotoneRingGNN(config) if config.presence_monotone else RingGNN(config)


class PosLinear(nn.Module):
    """A linear map with non-negative weights (softplus of a free parameter), no bias:
    non-decreasing in every input.

    forward(x [N, i]) -> [N, o]
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # softplus(raw) ~ U(0, 1/in): a sum of `in` non-negative inputs keeps their scale (the
        # default nn.Linear scale, all positive, would grow the states layer after layer)
        bound = 1.0 / max(self.raw.shape[1], 1)
        with torch.no_grad():
            w = torch.empty_like(self.raw).uniform_(0.02 * bound, bound)
            self.raw.copy_(torch.log(torch.expm1(w)))

    def forward(self, x: Tensor) -> Tensor:
        return x @ nn.functional.softplus(self.raw).t()


# x_id's log1p degree below this: the identifier has one account (log 2 = 0.69; two: log 3 = 1.10)
_SOLE = 0.9


def first_linked(b: GraphBatch, edges: Tensor) -> Tensor:
    """[E'] 1.0 where the account linked to the identifier before any other account did (`edges`: a
    mask or index of edges). Unlike `FIRST_HOLDER_COL` (first *and* shared), a later link cannot
    flip it: a sole holder is already the first."""
    shared_first = b.e_lab[edges, FIRST_HOLDER_COL]
    sole = (b.x_id[b.e_id[edges], DEGREE_COL] < _SOLE).to(shared_first.dtype)
    return torch.maximum(shared_first, sole)


def _aggregate(ei: Tensor, x: Tensor, n_dst: int, reduce: str) -> Tensor:
    """Rows of `x` (the relation's sources) summed or averaged into its `n_dst` destinations along a
    destination-sorted relation index (an `EdgeIndex` by one sparse product, or a plain [2, E])."""
    if isinstance(ei, EdgeIndex):
        return destination_major(ei).matmul(other=x, reduce=reduce)  # type: ignore[no-any-return]
    return scatter(x[ei[0]], ei[1], 0, dim_size=n_dst, reduce=reduce)


class MonotoneRingGNN(RingGNN):
    """The account scorer whose risk no account added later can lower: logit = structure + evidence,
    both non-decreasing in the presence of every other account.

    A fraudster controls the accounts they sign up (attributes, links, how many), never the labels,
    and cannot sign up in the past: the tenant records an account and its links when they happen,
    so a later account's links come after the identifiers they join already existed. So
    everything another account can change reaches the logit through non-negative states, sums and
    non-negative weights (`PosLinear`), and nothing reads a quantity an added account can push down
    (a mean over an identifier's accounts, a share of its accounts, the spread of their creation
    times, the gap to their median); what a later link cannot change (the identifier's age, who
    linked to it first) may enter with any sign:

        a1_b     = relu(A1·own_b)                                       ≥ 0, b's own
        z_(a,i)  = relu(P·log1p(Σ_{b ≠ a sending to i} a1_b) + P·[log degree, capped]
                        + P·[log1p #others of i created within 2 / 14 days of a]  (`co_creation`)
                        + F·[age of i, a linked to i first] + c_type
                        + F·[mean own features and log1p number of i's accounts linked before a])
        a2_a     = relu(A2·own_a + legit-label terms + Σ_type P·Σ_{i ∈ a's ids} z_(a,i)
                        + P·cohesion_a)
        structure(a) = g(own_a, legit labels) + P·a2_a
        evidence(a)  = Σ_{i ∈ a's ids with labelled fraud} gate · P·[log1p fraud, fraud share]
                       + w'·ring_evidence_a                             (`ring_evidence`, w' ≥ 0)

    (P: a `PosLinear`; "own" = the account's own encoded attributes and age; cohesion_a =
    `graphdata.cohesion`, the other accounts bound to a by several identifiers, `ModelConfig.cohesion`;
    the fraud share
    f / (f + l + 1) counts labelled accounts only; the gate reads the identifier's type and age freely
    (with `ModelConfig.evidence_prior` also how many accounts it had when a linked: later links come
    later), and through a monotone network (`GATE_SIGNS`) its label counts and the signed gap between
    the account's creation and the earliest labelled fraud there, `graphdata.FRAUD_GAP_COL`: all
    fixed under later unlabelled additions, and monotone in labels, so more labelled fraud never
    lowers the logit through the gate either; the last term, `ModelConfig.signup_view`, is what a
    saw at i when it linked: later links are never before it.) Adding an account b adds a1_b ≥ 0
    to the sums of its identifiers and raises their degrees; every path from there to another
    account's logit is non-decreasing, so no old account's risk can fall. Like `RingGNN`, the logit
    is a function of the account's 1-hop subgraph (online and batch scores agree). Scores still
    fall when investigators label accounts legit or mark identifiers benign. Limits: an identifier
    past the hub cap sends only its earliest `hub_cap` accounts, so a backdated account can
    displace one there, and change its age or first holder (history loads, never sign-ups); a
    suspicious-looking neighbour raises suspicion, a reassuring-looking one cannot lower it.
    """

    def __init__(self, config: ModelConfig) -> None:
        nn.Module.__init__(self)
        h, da = config.hidden, config.account_dim
        self.config = config
        self.own2 = nn.Linear(da, h)
        self.deg1 = PosLinear(2, h)
        self.burst1 = PosLinear(len(BURST_COLS), h) if config.co_creation else None
        self.fixed1 = nn.Linear(2, h, bias=False)
        self.prior1 = nn.Linear(da + 1, h, bias=False) if config.signup_view else None
        self.cohesion2 = PosLinear(COHESION_DIM, h) if config.cohesion else None
        self.type_bias1 = nn.Parameter(torch.zeros(N_TYPES, h))
        self.a0 = nn.Linear(da, h)
        self.msg1 = PosLinear(h, h)
        self.up2 = nn.ModuleList([PosLinear(h, h) for _ in ID_TYPES])
        self.legit = nn.Linear(2, h)
        self.dropout = nn.Dropout(config.dropout)
        self.head_pos = PosLinear(h, 1)
        self.head_own = nn.Sequential(nn.Linear(da + 2, h), nn.ReLU(), nn.Linear(h, 1))
        # the gate: one hidden layer, monotone in the signed label inputs (GATE_SIGNS) through
        # non-negative weights and tanh, with the identifier's type and age free in its biases
        self.gate_lab = PosLinear(len(GATE_SIGNS), 16)
        n_fixed = N_TYPES + 1 + int(config.evidence_prior)
        self.gate_fixed = nn.Linear(n_fixed, 16)
        self.gate_out = PosLinear(16, 1)
        self.gate_bias = nn.Linear(n_fixed, 1)
        self.ev_raw = nn.Parameter(torch.zeros(len(MONOTONE_EVIDENCE_COLS)))
        self.hop2_raw = nn.Parameter(torch.zeros(HOP2_DIM))
        self.ring_raw = nn.Parameter(torch.zeros(RING_EVIDENCE_DIM)) if config.ring_evidence else None
        with torch.no_grad():
            self.ev_raw.fill_(0.5)
            self.hop2_raw.fill_(-2.0)

    def reset_parameters(self) -> None:  # each layer initialises itself
        pass

    @staticmethod
    def _sum_by_type(lins: nn.ModuleList, h_edge: Tensor, ea: Tensor, etype: Tensor, na: int) -> Tensor:
        """Σ_type P_type · (per account, the sum of the edge states `h_edge` [E, H] of that type)."""
        out: Tensor | None = None
        for k in range(N_TYPES):
            sel = etype == k
            part = lins[k](h_edge.new_zeros((na, h_edge.shape[1])).index_add_(0, ea[sel], h_edge[sel]))
            out = part if out is None else out + part
        assert out is not None
        return out

    def _to_identifiers(self, b: GraphBatch, h_acc: Tensor) -> Tensor:
        """[Ni, H] per identifier the sum of `h_acc` over its (hub-capped) messaging accounts."""
        parts = []
        for k, t in enumerate(ID_TYPES):
            n_t = b.type_offsets[k + 1] - b.type_offsets[k]
            parts.append(_aggregate(b.msg_index[LINKS[t]], h_acc, n_t, "sum"))
        return torch.cat(parts) if parts else h_acc.new_zeros((0, h_acc.shape[1]))

    def own_labels(self, b: GraphBatch) -> Tensor:
        """[Na, 2] the account's legit-label inputs (mean and max of log1p legit over its
        identifiers without labelled fraud): investigators set them, added accounts cannot."""
        assert b.lab_acc is not None
        legit = STRUCT_COLS.index(LEGIT_COL)
        return b.lab_acc[:, [legit, legit + len(STRUCT_COLS)]]

    def embed(self, b: GraphBatch) -> Tensor:
        x, na = b.x_acc, b.x_acc.shape[0]
        ids = b.x_id[:, [DEGREE_COL, CAPPED_COL]]  # log degree, hub flag: both rise as accounts join
        # Messages are the senders' own features only: the score stays a function of the 1-hop
        # subgraph (online = batch), and no label reaches it through them.
        a1 = torch.relu(self.a0(x))
        sums = self._to_identifiers(b, a1)
        # Layer 2 per structural edge (a, i), leaving a's own message out of i's sum, so that an
        # identifier nobody else uses says nothing beyond its type and degree.
        st = b.e_lab[:, 0] <= 0
        ea, ei = b.e_acc[st], b.e_id[st]
        in_cap = torch.from_numpy(np.asarray(b.in_cap, dtype=bool))[st].to(a1.dtype).unsqueeze(1)
        sender = ea if b.origin is None else torch.from_numpy(b.origin)[ea]
        own = a1[sender] * in_cap
        others = torch.log1p((sums[ei] - own).clamp(min=0.0))
        # the identifier's age and whether a linked to it first: fixed once it exists (later links
        # come later), so free weights
        fixed = torch.stack([b.x_id[ei, AGE_COL], first_linked(b, st)], dim=1)
        z = self.msg1(others) + self.deg1(ids[ei]) + self.fixed1(fixed) + self.type_bias1[b.id_type[ei]]
        if self.burst1 is not None:  # how many of i's other accounts a was created with: rises as they join
            z = z + self.burst1(b.e_lab[st][:, list(BURST_COLS)])
        if self.prior1 is not None:
            assert b.e_prior is not None
            z = z + self.prior1(b.e_prior[st])  # what a saw at i when it linked: later links cannot move it
        z = torch.relu(z)
        out = self.own2(x) + self.legit(self.own_labels(b)) + self._sum_by_type(self.up2, z, ea, b.id_type[ei], na)
        if self.cohesion2 is not None:  # accomplices bound by several identifiers: rises as they join
            out = out + self.cohesion2(account_cohesion(b))
        return torch.relu(out)

    def structure_logit(self, b: GraphBatch, h: Tensor | None = None) -> Tensor:
        h = self.dropout(self.embed(b)) if h is None else h
        own = self.head_own(torch.cat([b.x_acc, self.own_labels(b)], dim=1))
        return (own + self.head_pos(h)).squeeze(1)

    # the share counts labelled accounts only; 1/log2(others) would fall as accounts join
    evidence_cols = MONOTONE_EVIDENCE_COLS

    def gate_inputs(self, b: GraphBatch) -> Tensor:
        """The identifier's type and age, and with `evidence_prior` log1p of the accounts it had when the
        account linked: nothing a later link or label can move."""
        fixed = b.x_id[b.e_id][:, [*range(N_TYPES), AGE_COL]]
        if not self.config.evidence_prior:
            return fixed
        assert b.e_prior is not None
        return torch.cat([fixed, b.e_prior[:, -1:]], dim=1)

    def gate_logit(self, b: GraphBatch) -> Tensor:
        """[E] a monotone network of the label inputs signed as GATE_SIGNS, shaped freely by the
        identifier's type and age: more labelled fraud there, or fraud labelled earlier relative
        to the account, can only open the gate, so more evidence never lowers the logit."""
        fixed = self.gate_inputs(b)
        labels = b.e_lab[:, [0, LEGIT_COL, FRAUD_GAP_COL]] * b.e_lab.new_tensor(GATE_SIGNS)
        hidden = torch.tanh(self.gate_lab(labels) + self.gate_fixed(fixed))
        return (self.gate_out(hidden) + self.gate_bias(fixed)).squeeze(1)
