"""`gnn.model` is PyG's `HeteroConv({relation: SAGEConv(aggr="mean")}, aggr="sum")` written as
sparse products (1M accounts score in under a minute on 2 cores): checked here against
torch_geometric itself, layer by layer, with the same weights.

One documented difference: an account-side relation's bias is added only where the account has
identifiers of that type (the bias sits inside the per-type mean); PyG's SAGEConv adds it even
for an empty neighbourhood. The PyG side below therefore runs bias-free and the biases are added
as the model defines them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch_geometric.nn import HeteroConv, SAGEConv

from ringfence.gnn.graphdata import GraphBatch, assemble, raw_from_store
from ringfence.gnn.model import AccountUpdate, IdentifierUpdate, ModelConfig, RingGNN
from ringfence.gnn.testing import load_world
from ringfence.graph.model import ID_TYPES
from ringfence.graph.sqlite_store import SQLiteStore

H = 8
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def _sage(weight_l: Tensor, bias_l: Tensor | None, weight_r: Tensor) -> SAGEConv:
    """A mean-SAGEConv with lin_l(x) = x @ weight_l + bias_l and lin_r(x) = x @ weight_r."""
    conv = SAGEConv((H, H), H, aggr="mean", bias=bias_l is not None)
    with torch.no_grad():
        conv.lin_l.weight.copy_(weight_l.T)
        if bias_l is not None:
            conv.lin_l.bias.copy_(bias_l)
        conv.lin_r.weight.copy_(weight_r.T)
    return conv


def _blocks(b: GraphBatch, h_id: Tensor) -> dict[str, Tensor]:
    return {t: h_id[b.type_offsets[k]:b.type_offsets[k + 1]] for k, t in enumerate(ID_TYPES)}


def _edges(b: GraphBatch, acc: Tensor, ident: Tensor) -> dict[str, Tensor]:
    """Per identifier type: [2, E] (account index, index within the type's block)."""
    out = {}
    for k, t in enumerate(ID_TYPES):
        lo, hi = b.type_offsets[k], b.type_offsets[k + 1]
        keep = (ident >= lo) & (ident < hi)
        out[t] = torch.stack([acc[keep], ident[keep] - lo])
    return out


def pyg_identifier_update(layer: IdentifierUpdate, b: GraphBatch, h_id: Tensor, h_acc: Tensor) -> Tensor:
    # Identifiers hear the hub-capped messaging edges (m_acc, m_id), one relation per type.
    conv = HeteroConv({
        ("account", "links", t): _sage(layer.neigh_lin.weight[k], layer.neigh_lin.bias[k] + layer.self_lin.bias[k],
                                       layer.self_lin.weight[k])
        for k, t in enumerate(ID_TYPES)
    }, aggr="sum")
    edges = _edges(b, b.m_acc, b.m_id)
    out = conv({"account": h_acc, **_blocks(b, h_id)}, {("account", "links", t): edges[t] for t in ID_TYPES})
    return torch.relu(torch.cat([out[t] for t in ID_TYPES]))


def pyg_account_update(layer: AccountUpdate, b: GraphBatch, h_acc: Tensor, h_id: Tensor,
                       extra: Tensor | None) -> Tensor:
    # Accounts hear their identifiers without labelled fraud (e_id -> e_acc; identifiers shared with
    # labelled fraud reach the logit through the evidence term only); the self term is carried by one relation.
    zero = torch.zeros(H, H)
    conv = HeteroConv({
        (t, "rev_links", "account"): _sage(layer.msg.weight[k], None, layer.self_lin.weight.T if k == 0 else zero)
        for k, t in enumerate(ID_TYPES)
    }, aggr="sum")
    structural = b.e_lab[:, 0] <= 0
    edges = _edges(b, b.e_acc[structural], b.e_id[structural])
    out = conv({"account": h_acc, **_blocks(b, h_id)},
               {(t, "rev_links", "account"): edges[t].flip(0) for t in ID_TYPES})["account"]
    out = out + layer.self_lin.bias
    for k, t in enumerate(ID_TYPES):
        has_type = torch.zeros(len(h_acc), dtype=torch.bool)
        has_type[edges[t][0]] = True
        out = out + has_type.unsqueeze(1) * layer.msg.bias[k]
    if layer.extra_lin is not None and extra is not None:
        out = out + layer.extra_lin(extra)
    return torch.relu(out)


# Each PyG HeteroConv here updates one side only (the model's layers do the same), which PyG warns about.
@pytest.mark.filterwarnings("ignore:There exist node types:UserWarning")
def test_model_layers_equal_pyg_heteroconv_sage(tmp_path: Path) -> None:
    # given a real synthetic graph and a randomly initialised model
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    load_world(store, 600, seed=4)
    raw, _ = raw_from_store(store, None, AS_OF)
    store.close()
    b = assemble(raw, hub_cap=20, as_of=AS_OF)
    torch.manual_seed(0)
    b.x_acc = torch.randn(len(raw.account_ids), 5)
    model = RingGNN(ModelConfig(account_dim=5, identifier_dim=b.x_id.shape[1], hidden=H)).eval()
    assert all(len(e) for e in _edges(b, b.e_acc, b.e_id).values()), "every identifier type must occur"
    # when the embedding is computed by the model and by PyG layers with the same weights
    with torch.no_grad():
        ours = model.embed(b)
        a0 = torch.relu(model.acc_in(b.x_acc))
        i0 = torch.relu(model.id_in(b.x_id))
        i1 = pyg_identifier_update(model.id1, b, i0, a0)
        a1 = pyg_account_update(model.acc1, b, a0, i0, None)
        theirs = pyg_account_update(model.acc2, b, a1, i1, model.own_labels(b))
    # then they agree, and the check is not vacuous
    assert ours.shape == (len(raw.account_ids), H) and ours.abs().sum() > 0
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
