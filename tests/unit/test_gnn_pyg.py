"""`gnn.model` is built from torch_geometric (`HeteroConv` of mean `SAGEConv`s); these tests check
our two extensions against stock PyG with the same weights:

- `SAGE`: stock `SAGEConv` aggregating a destination-sorted `EdgeIndex` by one sparse product
  (PyG's fused path) instead of gathering and scattering an [E, H] message tensor;
- `PresentBiasSAGE`: a relation's bias added only where the destination has neighbours in the
  relation (stock `SAGEConv` adds it to an empty mean too).

and, end to end on a real graph, that the model's embedding equals stock `HeteroConv` + `SAGEConv`
over plain `[2, E]` edge tensors plus the typed bias.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.nn import HeteroConv, SAGEConv

from ringfence.gnn import graphdata
from ringfence.gnn.graphdata import LINKS, REV_LINKS, GraphBatch, assemble, raw_from_store
from ringfence.gnn.model import SAGE, AccountUpdate, IdentifierUpdate, ModelConfig, PresentBiasSAGE, RingGNN
from ringfence.gnn.testing import load_world
from ringfence.graph.model import ID_TYPES
from ringfence.graph.sqlite_store import SQLiteStore

H = 8
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def _edges(n_src: int, n_dst: int, n: int, seed: int) -> EdgeIndex:
    rng = np.random.default_rng(seed)
    flat = np.sort(rng.choice(n_src * n_dst, size=n, replace=False) % (n_src * n_dst))
    src, dst = flat % n_src, flat // n_src  # sorted by destination
    return EdgeIndex(torch.from_numpy(np.stack([src, dst])), sparse_size=(n_src, n_dst), sort_order="col")


def test_sage_on_sorted_edge_index_equals_stock_sage_with_gradients() -> None:
    # given our SAGE and a stock SAGEConv with the same weights
    torch.manual_seed(0)
    ours = SAGE((H, H), H, aggr="mean")
    stock = SAGEConv((H, H), H, aggr="mean")
    stock.load_state_dict(ours.state_dict())
    ei = _edges(30, 20, 60, seed=1)
    x_src = torch.randn(30, H, requires_grad=True)
    x_dst = torch.randn(20, H)
    # when both run, ours on the sorted EdgeIndex (fused product), stock on the plain tensor
    got = ours((x_src, x_dst), ei)
    want = stock((x_src, x_dst), ei.as_tensor())
    # then outputs and gradients agree
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    g_ours = torch.autograd.grad(got.square().sum(), [x_src, *ours.parameters()])
    g_stock = torch.autograd.grad(want.square().sum(), [x_src, *stock.parameters()])
    for a, b in zip(g_ours, g_stock, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("sorted_index", [True, False])
def test_present_bias_is_stock_sage_plus_bias_only_where_there_are_neighbours(sorted_index: bool) -> None:
    # given a relation where some destinations have no neighbour
    torch.manual_seed(0)
    conv = PresentBiasSAGE(H, H)
    stock = SAGEConv((H, H), H, aggr="mean", root_weight=False, bias=True)
    with torch.no_grad():
        stock.lin_l.weight.copy_(conv.lin_l.weight)
        stock.lin_l.bias.copy_(conv.bias)
    ei = _edges(15, 25, 12, seed=2)
    x = (torch.randn(15, H), torch.randn(25, H))
    has = torch.zeros(25, dtype=torch.bool)
    has[ei.as_tensor()[1]] = True
    assert has.any() and not has.all()
    # when
    got = conv(x, ei if sorted_index else ei.as_tensor())
    want = stock(x, ei.as_tensor())
    # then: stock PyG where there are neighbours; 0, not the bias, where there are none
    torch.testing.assert_close(got[has], want[has], atol=1e-5, rtol=1e-5)
    assert torch.equal(got[~has], torch.zeros_like(got[~has]))
    torch.testing.assert_close(want[~has], conv.bias.detach().expand_as(want[~has]))


def _blocks(b: GraphBatch, h_id: Tensor) -> dict[str, Tensor]:
    return {t: h_id[b.type_offsets[k]:b.type_offsets[k + 1]] for k, t in enumerate(ID_TYPES)}


def _plain(ei: Tensor) -> Tensor:
    return ei.as_tensor() if isinstance(ei, EdgeIndex) else ei


def _stock_sage(conv: SAGEConv) -> SAGEConv:
    stock = SAGEConv((H, H), H, aggr="mean", root_weight=conv.root_weight, bias=conv.lin_l.bias is not None)
    stock.load_state_dict(conv.state_dict(), strict=False)
    return stock


def stock_identifier_update(layer: IdentifierUpdate, b: GraphBatch, h_id: Tensor, h_acc: Tensor) -> Tensor:
    conv = HeteroConv({LINKS[t]: _stock_sage(layer.conv.convs[LINKS[t]]) for t in ID_TYPES}, aggr="sum")
    out = conv({"account": h_acc, **_blocks(b, h_id)}, {r: _plain(ei) for r, ei in b.msg_index.items()})
    return torch.relu(torch.cat([out[t] for t in ID_TYPES]))


def stock_account_update(layer: AccountUpdate, b: GraphBatch, h_acc: Tensor, h_id: Tensor,
                         extra: Tensor | None) -> Tensor:
    convs = {REV_LINKS[t]: layer.conv.convs[REV_LINKS[t]] for t in ID_TYPES}
    stock = HeteroConv({r: _stock_sage(c) for r, c in convs.items()}, aggr="sum")
    edges = {r: _plain(ei) for r, ei in b.acc_index.items()}
    out = stock({"account": h_acc, **_blocks(b, h_id)}, edges)["account"] + layer.self_lin(h_acc)
    for r, c in convs.items():
        has = torch.zeros(len(h_acc), dtype=torch.bool)
        has[edges[r][1]] = True
        out = out + has.unsqueeze(1) * c.bias
    if layer.extra_lin is not None and extra is not None:
        out = out + layer.extra_lin(extra)
    return torch.relu(out)


# Each stock HeteroConv here updates one side only (the model's layers do the same), which PyG warns about.
@pytest.mark.filterwarnings("ignore:There exist node types:UserWarning")
@pytest.mark.parametrize("sorted_index", [True, False])
def test_model_embedding_equals_stock_heteroconv_sage_plus_typed_bias(sorted_index: bool, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # given a real synthetic graph (as sorted EdgeIndexes, the sweep path, or plain edge tensors, the
    # online path) and a randomly initialised model
    if sorted_index:
        monkeypatch.setattr(graphdata, "SMALL_NNZ", 0)
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    load_world(store, 600, seed=4)
    raw, _ = raw_from_store(store, None, AS_OF)
    store.close()
    b = assemble(raw, hub_cap=20, as_of=AS_OF)
    torch.manual_seed(0)
    b.x_acc = torch.randn(len(raw.account_ids), 5)
    model = RingGNN(ModelConfig(account_dim=5, identifier_dim=b.x_id.shape[1], hidden=H)).eval()
    assert all(ei.shape[1] for ei in b.acc_index.values()), "every identifier type must occur"
    # when the embedding is computed by the model and by stock PyG layers with the same weights
    with torch.no_grad():
        ours = model.embed(b)
        a0 = torch.relu(model.acc_in(b.x_acc))
        i0 = torch.relu(model.id_in(b.x_id))
        i1 = stock_identifier_update(model.id1, b, i0, a0)
        a1 = stock_account_update(model.acc1, b, a0, i0, None)
        theirs = stock_account_update(model.acc2, b, a1, i1, model.own_labels(b))
    # then they agree, and the check is not vacuous
    assert ours.shape == (len(raw.account_ids), H) and ours.abs().sum() > 0
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_sorted_edge_index_path_equals_plain_edge_path_with_gradients(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps and training on a real graph use sorted `EdgeIndex`es (sparse products), online
    subgraphs plain edge tensors (gather / scatter): the same model, the same outputs and gradients."""
    # given one graph assembled both ways
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    load_world(store, 400, seed=2)
    raw, _ = raw_from_store(store, None, AS_OF)
    store.close()
    raw.x_acc = np.random.default_rng(0).standard_normal((len(raw.account_ids), 5)).astype(np.float32)
    plain = assemble(raw, hub_cap=8, as_of=AS_OF)
    monkeypatch.setattr(graphdata, "SMALL_NNZ", 0)
    sparse = assemble(raw, hub_cap=8, as_of=AS_OF)
    assert all(isinstance(ei, EdgeIndex) for ei in [*sparse.msg_index.values(), *sparse.acc_index.values()])
    assert not any(isinstance(ei, EdgeIndex) for ei in [*plain.msg_index.values(), *plain.acc_index.values()])
    torch.manual_seed(0)
    model = RingGNN(ModelConfig(account_dim=5, identifier_dim=plain.x_id.shape[1], hidden=H)).eval()
    # when the logits and their gradients are computed on each
    outs, grads = [], []
    for b in (plain, sparse):
        model.zero_grad()
        logit = model(b)
        logit.square().sum().backward()
        outs.append(logit.detach())
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    # then they agree to float rounding
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    assert len(grads[0]) == len(grads[1]) > 0
    for g0, g1 in zip(*grads, strict=True):
        torch.testing.assert_close(g0, g1, atol=1e-4, rtol=1e-4)
