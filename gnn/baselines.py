"""Neighbour-aggregated features for the tree baselines and the hybrid, and metrics.

`hop1_features` only looks at an account's identifiers and the accounts sharing them, so it
is computable online from a 1-hop subgraph (the hybrid uses it); `hop2_label_counts` needs the
full graph and is for the baseline only. Label counts are always leave-self-out.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from ringfence.gnn import graphdata
from ringfence.gnn.graphdata import GraphBatch, RawGraph
from ringfence.gnn.model import scatter_max

HOP1_NAMES = [
    "fraud_1hop_sum", "fraud_1hop_max", "legit_1hop_sum", "fraud_share_max", "n_identifiers",
    "log_degree_mean", "log_degree_max", "shared_with_log", "burst_min", "id_age_min",
]


def hop1_features(b: GraphBatch) -> np.ndarray:
    """[Na, len(HOP1_NAMES) + Da]: label proximity (leave-self-out), identifier degrees and
    burstiness, and the mean input features of the accounts sharing its identifiers."""
    n = b.x_acc.shape[0]
    e_acc = b.e_acc
    lab = b.e_lab
    f = torch.expm1(lab[:, 0:1])
    legit = torch.expm1(lab[:, 1:2])
    xi = b.x_id[b.e_id]
    logdeg = xi[:, 3:4]
    ones = torch.ones((len(e_acc), 1))
    # One segment sum and one segment max over stacked columns (each column is reduced on its
    # own, in edge order: the same numbers as one call per column, at a fraction of the calls).
    sums = torch.zeros((n, 5)).index_add_(0, e_acc, torch.cat([f, legit, ones, torch.expm1(logdeg) - 1, logdeg], 1))
    maxes = scatter_max(torch.cat([f, lab[:, 2:3], logdeg, -xi[:, 5:6], -xi[:, 4:5]], 1), e_acc, n)
    count = sums[:, 2:3]
    cols = [
        torch.log1p(sums[:, 0:1]),
        torch.log1p(maxes[:, 0:1]),
        torch.log1p(sums[:, 1:2]),
        maxes[:, 1:2],
        count,
        sums[:, 4:5] / count.clamp(min=1.0),
        maxes[:, 2:3],
        torch.log1p(sums[:, 3:4]),
        -maxes[:, 3:4],
        -maxes[:, 4:5],
    ]
    # Mean input features of the accounts messaging each identifier, averaged over the account's
    # identifiers: two sparse products instead of [E, Da] gathers (1M accounts: ~1 GB less).
    assert b.a_id is not None
    neigh_at_id = (b.a_id @ b.x_acc).numpy()
    ea, ei = b.e_acc.numpy(), b.e_id.numpy()
    cnt = np.bincount(ea, minlength=n).astype(np.float64)
    if len(ea) <= graphdata.SMALL_NNZ:  # online: a gather and index_add_ (scipy's per-call checks cost more)
        w = torch.from_numpy(neigh_at_id.astype(np.float64)[ei] / cnt[ea][:, None])
        mean_neigh = torch.zeros((n, w.shape[1]), dtype=torch.float64).index_add_(0, b.e_acc, w).numpy()
    else:
        mean_edges = sp.csr_matrix((1.0 / cnt[ea], (ea, ei)), shape=(n, b.x_id.shape[0]), dtype=np.float64)
        mean_neigh = mean_edges @ neigh_at_id.astype(np.float64)
    cols.append(torch.from_numpy(mean_neigh.astype(np.float32)))
    return torch.cat(cols, dim=1).numpy().astype(np.float32)


def hop2_label_counts(raw: RawGraph, b: GraphBatch) -> np.ndarray:
    """[Na, 2] log1p of labelled-fraud path counts at 1 and 2 account hops, excluding the account's own label."""
    na, ni = len(raw.account_ids), len(raw.id_keys)
    m_acc, m_id = b.m_acc.numpy(), b.m_id.numpy()
    inc = sp.csr_matrix((np.ones(len(m_acc)), (m_acc, m_id)), shape=(na, ni))
    p = (inc @ inc.T).tocsr()
    diag = p.diagonal()
    p = p - sp.diags(diag)
    p.eliminate_zeros()
    y = (raw.label == 1).astype(np.float64)
    f1 = p @ y
    f2 = p @ f1 - np.asarray(p.multiply(p).sum(axis=1)).ravel() * y
    return np.log1p(np.stack([f1, np.maximum(f2, 0.0)], axis=1)).astype(np.float32)


def lgb_params(seed: int, threads: int = 2) -> dict[str, Any]:
    return {
        "objective": "binary", "metric": "binary_logloss", "learning_rate": 0.05, "num_leaves": 31,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
        "seed": seed, "deterministic": True, "force_row_wise": True, "num_threads": threads, "verbosity": -1,
    }


def fit_lgb(x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray, seed: int,
            rounds: int = 400, threads: int = 2) -> lgb.Booster:
    pos = max(float(y_tr.sum()), 1.0)
    params = {**lgb_params(seed, threads), "scale_pos_weight": float(np.sqrt((len(y_tr) - pos) / pos))}
    train = lgb.Dataset(x_tr, y_tr, free_raw_data=True)
    valid = lgb.Dataset(x_va, y_va, reference=train)
    return lgb.train(
        params, train, num_boost_round=rounds, valid_sets=[valid],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    out = {"roc_auc": float("nan"), "ap": float("nan"), "recall@1%": float("nan"), "recall@5%": float("nan")}
    if y.min() == y.max():
        return out
    out["roc_auc"] = float(roc_auc_score(y, p))
    out["ap"] = float(average_precision_score(y, p))
    order = np.argsort(-p, kind="stable")
    for frac, key in ((0.01, "recall@1%"), (0.05, "recall@5%")):
        k = max(1, int(round(frac * len(p))))
        out[key] = float(y[order[:k]].sum() / y.sum())
    return out
