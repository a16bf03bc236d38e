"""`gnn.graphdata`: PyG relation indices against dense means, small-graph fast paths against the general ones."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch_geometric import EdgeIndex

from ringfence.gnn import graphdata
from ringfence.gnn.graphdata import LINKS, REV_LINKS, GraphBatch, finalize, hop2_counts, relation_index
from ringfence.gnn.model import destination_major
from ringfence.gnn.score import _with_loo_copies
from ringfence.graph.model import ID_TYPES


def _entries(rng: np.random.Generator, n_rows: int, n_cols: int, nnz: int) -> tuple[np.ndarray, ...]:
    flat = rng.choice(n_rows * n_cols, size=nnz, replace=False)
    rng.shuffle(flat)
    return flat // n_cols, flat % n_cols, rng.random(nnz).astype(np.float32)


@pytest.mark.parametrize("reverse", [False, True])
def test_relation_index_means_equal_dense_means_with_gradients(reverse: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # given distinct (account, identifier) memberships over three type blocks (one empty), indexed
    # as sorted EdgeIndexes (the path of graphs above SMALL_NNZ edges)
    monkeypatch.setattr(graphdata, "SMALL_NNZ", 0)
    rng = np.random.default_rng(0)
    na, offsets = 40, [0, 12, 12, 30]
    acc, ident, _ = _entries(rng, na, offsets[-1], 200)
    # when each relation's mean is taken by PyG's sorted `EdgeIndex` product
    index = relation_index(acc, ident, offsets, na, reverse=reverse)
    x = torch.randn(offsets[-1] if reverse else na, 8, requires_grad=True)
    for k, t in enumerate(ID_TYPES):
        rel = REV_LINKS[t] if reverse else LINKS[t]
        ei = index[rel]
        assert isinstance(ei, EdgeIndex) and ei.is_sorted_by_col
        lo, hi = offsets[k], offsets[k + 1]
        src = x[lo:hi] if reverse else x
        got = destination_major(ei).matmul(src, reduce="mean")
        # then it is the dense mean over the destination's neighbours (0 for none), gradients too
        in_t = (ident >= lo) & (ident < hi)
        dense = torch.zeros((na, hi - lo) if reverse else (hi - lo, na))
        d, s_ = (acc[in_t], ident[in_t] - lo) if reverse else (ident[in_t] - lo, acc[in_t])
        dense[torch.from_numpy(d), torch.from_numpy(s_)] = 1.0
        want = (dense / dense.sum(1, keepdim=True).clamp(min=1.0)) @ src
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        if hi > lo:
            g1 = torch.autograd.grad(got.square().sum(), x)[0]
            g2 = torch.autograd.grad(want.square().sum(), x)[0]
            torch.testing.assert_close(g1, g2, atol=1e-4, rtol=1e-5)


def test_hop2_dense_path_is_exactly_the_sparse_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a random bipartite membership with some labelled fraud
    rng = np.random.default_rng(2)
    na, ni = 60, 40
    m_acc, m_id, _ = _entries(rng, na, ni, 150)
    lab = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=na, p=[0.6, 0.2, 0.2])
    fraud_at = np.bincount(m_id, weights=(lab[m_acc] == 1).astype(np.float64), minlength=ni)
    # when computed densely (small graph) and through scipy (threshold forced to 0)
    dense = hop2_counts(lab, m_acc, m_id, fraud_at, na, ni)
    monkeypatch.setattr(graphdata, "SMALL_NNZ", 0)
    sparse = hop2_counts(lab, m_acc, m_id, fraud_at, na, ni)
    # then
    assert (lab == 1).any() and dense.any()
    np.testing.assert_array_equal(dense, sparse)


def _batch(rng: np.random.Generator, na: int = 12, ni: int = 9) -> GraphBatch:
    e_acc, e_id, _ = _entries(rng, na, ni, 30)
    in_cap = rng.random(len(e_acc)) < 0.8
    return GraphBatch(
        x_acc=torch.randn(na, 5), x_id=torch.randn(ni, 7), id_type=torch.from_numpy(np.sort(rng.integers(0, 3, ni))),
        m_acc=torch.from_numpy(e_acc[in_cap]), m_id=torch.from_numpy(e_id[in_cap]),
        e_acc=torch.from_numpy(e_acc), e_id=torch.from_numpy(e_id), e_lab=torch.randn(len(e_acc), 4),
        in_cap=in_cap, fraud_at=np.zeros(ni), legit_at=np.zeros(ni), hop2=rng.random((na, 2)).astype(np.float32),
    )


@pytest.mark.parametrize("sorted_index", [True, False])
def test_leave_one_out_copies_equal_a_full_finalize(sorted_index: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a batch (edges as sorted EdgeIndexes or plain tensors) and two seeds
    if sorted_index:
        monkeypatch.setattr(graphdata, "SMALL_NNZ", 0)
    b = _batch(np.random.default_rng(3))
    seeds = np.array([0, 5], dtype=np.int64)
    # when the copies are appended to the finalized base batch
    aug, loo = _with_loo_copies(replace(b), seeds)
    # then the result is the full `finalize` of the augmented edge lists
    full = finalize(replace(aug, msg_index={}, acc_index={}, lab_acc=None, type_offsets=[]))
    n_aug = aug.x_acc.shape[0]
    assert n_aug == b.x_acc.shape[0] + sum(len(c) for c, _ in loo.values()) > b.x_acc.shape[0]
    assert aug.type_offsets == full.type_offsets
    assert aug.lab_acc is not None and full.lab_acc is not None
    assert torch.equal(aug.lab_acc, full.lab_acc)
    for mine, theirs in ((aug.msg_index, full.msg_index), (aug.acc_index, full.acc_index)):
        assert mine.keys() == theirs.keys()
        for rel in mine:
            assert isinstance(mine[rel], EdgeIndex) == isinstance(theirs[rel], EdgeIndex) == sorted_index
            if sorted_index:
                assert mine[rel].sparse_size() == theirs[rel].sparse_size()  # type: ignore[attr-defined]
            assert torch.equal(mine[rel].as_subclass(torch.Tensor), theirs[rel].as_subclass(torch.Tensor))


