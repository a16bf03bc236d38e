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

import torch
from torch import Tensor, nn
from torch_geometric import EdgeIndex
from torch_geometric.nn import HeteroConv, MessagePassing, SAGEConv
from torch_geometric.typing import Adj, OptPairTensor, Size
from torch_geometric.utils import degree

from ringfence.gnn.graphdata import (
    EVIDENCE_COLS,
    HOP2_DIM,
    LINKS,
    REV_LINKS,
    STRUCT_COLS,
    STRUCT_LAB_DIM,
    GraphBatch,
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
      non-decreasing in labelled fraud; gate in [GATE_FLOOR, 1] reads no label evidence.

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

    def evidence(self, b: GraphBatch) -> Tensor:
        """[Na] the non-negative evidence term of the logit (see the class docstring)."""
        n = b.x_acc.shape[0]
        lab = b.e_lab
        ev = (lab[:, 0] > 0).to(lab.dtype)
        value = (lab[:, list(EVIDENCE_COLS)] * ev.unsqueeze(1)) @ self.evidence_weights()
        gate_in = torch.cat([b.x_id[b.e_id], lab[:, list(STRUCT_COLS)]], dim=1)
        gate = GATE_FLOOR + (1.0 - GATE_FLOOR) * torch.sigmoid(self.gate(gate_in).squeeze(1))
        out = lab.new_zeros(n).index_add_(0, b.e_acc, gate * value)
        if self.config.hop2 and b.hop2 is not None:
            hop2 = torch.as_tensor(b.hop2, dtype=out.dtype)
            out = out + hop2 @ nn.functional.softplus(self.hop2_raw)
        return out

    def structure_logit(self, b: GraphBatch, h: Tensor | None = None) -> Tensor:
        h = self.dropout(self.embed(b)) if h is None else h
        return self.head(torch.cat([h, b.x_acc, self.own_labels(b)], dim=1)).squeeze(1)

    def forward(self, b: GraphBatch) -> Tensor:
        return self.structure_logit(b) + self.evidence(b)
