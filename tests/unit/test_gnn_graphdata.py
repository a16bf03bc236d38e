"""The small-graph fast paths of `gnn.graphdata` against the general (scipy) ones."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ringfence.gnn import graphdata
from ringfence.gnn.graphdata import GraphBatch, SparseMatrix, finalize, hop2_counts
from ringfence.gnn.model import TypedLinear
from ringfence.gnn.score import _with_loo_copies


def _entries(rng: np.random.Generator, n_rows: int, n_cols: int, nnz: int) -> tuple[np.ndarray, ...]:
    flat = rng.choice(n_rows * n_cols, size=nnz, replace=False)
    rng.shuffle(flat)
    return flat // n_cols, flat % n_cols, rng.random(nnz).astype(np.float32)


def test_small_and_scipy_products_agree_with_gradients() -> None:
    # given one matrix in both representations
    rng = np.random.default_rng(0)
    rows, cols, vals = _entries(rng, 40, 30, 200)
    small = SparseMatrix.build(rows, cols, vals, (40, 30), small=True)
    large = SparseMatrix.build(rows, cols, vals, (40, 30), small=False)
    dense = torch.zeros(40, 30)
    dense[torch.from_numpy(rows), torch.from_numpy(cols)] = torch.from_numpy(vals)
    x = torch.randn(30, 8, requires_grad=True)
    # when
    products = [m @ x for m in (small, large)]
    grads = [torch.autograd.grad(p.square().sum(), x)[0] for p in products]
    # then
    for p, g in zip(products, grads, strict=True):
        assert p.shape == (40, 8)
        torch.testing.assert_close(p, dense @ x, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(g, torch.autograd.grad((dense @ x).square().sum(), x)[0], atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("small", [True, False])
def test_widen_and_stack_equal_a_direct_build(small: bool) -> None:
    rng = np.random.default_rng(1)
    r1, c1, v1 = _entries(rng, 10, 12, 30)
    r2, c2, v2 = _entries(rng, 5, 12, 20)
    top = SparseMatrix.build(r1, c1, v1, (10, 12), small=small)
    stacked = top.vstack(SparseMatrix.build(r2, c2, v2, (5, 12), small=small))
    direct = SparseMatrix.build(np.r_[r1, r2 + 10], np.r_[c1, c2], np.r_[v1, v2], (15, 12), small=small)
    x = torch.randn(12, 4)
    assert stacked.shape == (15, 12)
    torch.testing.assert_close(stacked @ x, direct @ x)
    wide = top.with_columns(20)
    assert wide.shape == (10, 20)
    torch.testing.assert_close(wide @ torch.cat([x, torch.randn(8, 4)]), top @ x)


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


def test_leave_one_out_copies_equal_a_full_finalize() -> None:
    # given a batch and two seeds
    b = _batch(np.random.default_rng(3))
    seeds = np.array([0, 5], dtype=np.int64)
    # when the copies are appended to the finalized base batch
    aug, loo = _with_loo_copies(replace(b), seeds)
    # then the result is the full `finalize` of the augmented edge lists
    full = finalize(replace(aug, a_id=None, a_acc=None, lab_acc=None, type_offsets=[]))
    n_aug = aug.x_acc.shape[0]
    assert n_aug == b.x_acc.shape[0] + sum(len(c) for c, _ in loo.values()) > b.x_acc.shape[0]
    assert aug.type_offsets == full.type_offsets
    assert aug.a_id is not None and full.a_id is not None and aug.a_acc is not None and full.a_acc is not None
    assert aug.a_id.shape == full.a_id.shape and aug.a_acc.shape == full.a_acc.shape
    assert aug.lab_acc is not None and full.lab_acc is not None
    assert torch.equal(aug.lab_acc, full.lab_acc)
    h_acc, h_id = torch.randn(n_aug, 6), torch.randn(b.x_id.shape[0], 6)
    assert torch.equal(aug.a_id @ h_acc, full.a_id @ h_acc)
    assert torch.equal(aug.a_acc @ h_id, full.a_acc @ h_id)


def test_typed_linear_inference_path_matches_training_path() -> None:
    lin = TypedLinear(8, 5)
    x = torch.randn(11, 8)
    offsets = [0, 4, 4, 11]  # an empty type block in the middle
    with torch.no_grad():
        inference = lin(x, offsets)
    training = lin(x, offsets)
    assert training.requires_grad and not inference.requires_grad
    torch.testing.assert_close(inference, training.detach(), atol=1e-6, rtol=1e-6)
