"""Neighbour-aggregated features for the tree baselines and the hybrid, and metrics.

`hop1_features` only looks at an account's identifiers and the accounts sharing them, so it
is computable online from a 1-hop subgraph (the hybrid uses it); `hop2_label_counts` needs the
full graph and is for the baseline only. Label counts are always leave-self-out. The label
evidence columns are monotone (`hop1_monotone`); the structural ones read only identifiers
without labelled fraud, so a link that carries evidence moves evidence columns alone.
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
from ringfence.gnn.model import ModelConfig, first_linked, scatter_max

# Label evidence (identifiers shared with labelled fraud other than the account itself): every one
# is non-decreasing when the account gains such a link or a sharer gains a fraud label, and the
# trees are monotone (+1) in each (`monotone_constraints`).
EVIDENCE_NAMES = [
    "fraud_1hop_sum", "fraud_1hop_max", "fraud_share_max", "n_evidence_ids", "evidence_weight_sum",
    "evidence_tight_max", "evidence_follower_max",
]
# Structure, over the account's identifiers without labelled fraud only (a link that carries
# evidence never changes them), then the mean input features of the accounts sharing those.
STRUCT_NAMES = [
    "legit_1hop_sum", "n_identifiers", "log_degree_mean", "log_degree_max", "shared_with_log", "spread_min",
    "id_age_min", "gap_min", "first_holder_max",
]
HOP1_NAMES = EVIDENCE_NAMES + STRUCT_NAMES


# With `presence_monotone` (what no account added later can lower): the structure columns an added
# account can only raise, constrained +1. Spreads and gaps, which it can move either way, are 0;
# the identifier's age and its first holder stay: a later link changes neither.
PRESENCE_RISING = ("log_degree_mean", "log_degree_max", "shared_with_log")
# ... and after the neighbours' extremes, the most accounts created together with the account on
# one of those identifiers, per window (`graphdata.BURST_COLS`), constrained +1.
BURST_NAMES = [f"co_created_{int(w)}d_max" for w in graphdata.BURST_WINDOWS_DAYS]


def hop1_features(b: GraphBatch, config: ModelConfig) -> np.ndarray:
    """The 1-hop tree inputs of a model `config` (the switches below are its fields): [Na, len(HOP1_NAMES)
    + Da] (+ Da + len(BURST_NAMES) with `presence_monotone`, + Da + 2 more with `signup_view`): label
    evidence (leave-self-out; monotone), structure and timing of the identifiers without labelled fraud, and
    the mean input features of their accounts.

    `presence_monotone`: the evidence columns read only labelled accounts (the share, not the
    1/log2(others) weight; the gap to the earliest labelled fraud, not to the median of everyone),
    spreads and gaps are 0, and the neighbours' mean features become their maxima and
    minima (`neighbour_extremes`), so that with the constraints of `hop1_monotone` no added account
    lowers a score; the first-holder flag is `first_linked`
    (a sole holder counts), which a later link cannot flip. `signup_view` (with `presence_monotone`):
    what the account saw at its identifiers when it linked (`graphdata.signup_view`), averaged over
    its structural edges, and the mean and max log1p number of accounts it found there: fixed.
    `cohesion` (with `presence_monotone`): `graphdata.account_cohesion`, which added accounts only raise.
    Without `co_creation` the BURST_NAMES columns are zeros. `ring_evidence` appends
    `graphdata.account_ring_evidence` (label evidence: links into a ring with labelled fraud), and
    `evidence_prior` (with `presence_monotone`) then the largest labelled-fraud count of an evidence
    identifier per account it held when the account linked (+1): rises with labels, fixed under presence;
    with `legit_dilutes` the accounts it held are at least its labelled ones (f + l).
    `label_share` then appends Σf / (Σf + Σl + 1), labelled fraud f other than itself over all the
    account's identifiers, labelled legit l over those without labelled fraud (+1): the neighbours'
    label rate of the published tree recipes, counting labelled accounts only, so that no added
    account moves it, and rising with every link to labelled fraud. With `legit_dilutes` each identifier
    with labelled fraud adds its own share f/(f+l) to the numerator (and the denominator) instead of f:
    still rising with every such link and every fraud label, but a hub's many labelled fraudsters no
    longer outweigh its many labelled legit users (on Tolokers, one other account per identifier, the
    two are equal).
    """
    presence_monotone, signup_view, cohesion = config.presence_monotone, config.signup_view, config.cohesion
    n = b.x_acc.shape[0]
    f64 = torch.float64
    # float64 throughout: sums of a few float32 values are then exact, so the same account gets
    # the same bits from a 1-hop subgraph and from the whole graph (edges in another order), and no
    # value sits one rounding step either side of a tree's threshold (online = batch)
    lab = b.e_lab.double()
    ev = lab[:, 0] > 0
    st = ~ev
    xi = b.x_id[b.e_id].double()
    logdeg = xi[:, 3:4]
    f = torch.expm1(lab[:, 0:1])
    legit = torch.expm1(lab[:, 1:2])
    gap_cap = float(np.log1p(graphdata.GAP_CAP_DAYS))
    ones = torch.ones((len(b.e_acc), 1), dtype=f64)
    # evidence edges: sums and maxes (all values >= 0, so scatter_max's 0 for none is the floor)
    ea_ev = b.e_acc[ev]
    lev = lab[ev]
    ev_sums = torch.zeros((n, 3), dtype=f64).index_add_(0, ea_ev, torch.cat([f[ev], ones[ev], lev[:, 3:4]], 1))
    ev_max = scatter_max(torch.cat([f[ev], lev[:, 2:3], gap_cap - lev[:, 4:5], 1.0 - lev[:, 5:6]], 1), ea_ev, n)
    # structural edges
    ea_st = b.e_acc[st]
    xs, ls = xi[st], lab[st]
    st_sums = torch.zeros((n, 4), dtype=f64).index_add_(0, ea_st, torch.cat([legit[st], ones[st],
                                                                          torch.expm1(logdeg[st]) - 1, logdeg[st]], 1))
    st_max = scatter_max(torch.cat([logdeg[st], -xs[:, 5:6], -xs[:, 4:5], -ls[:, 4:5], ls[:, 5:6]], 1), ea_st, n)
    count = st_sums[:, 1:2]
    cols = [
        torch.log1p(ev_sums[:, 0:1]), torch.log1p(ev_max[:, 0:1]), ev_max[:, 1:2], ev_sums[:, 1:2], ev_sums[:, 2:3],
        ev_max[:, 2:3], ev_max[:, 3:4],
        torch.log1p(st_sums[:, 0:1]), count, st_sums[:, 3:4] / count.clamp(min=1.0), st_max[:, 0:1],
        torch.log1p(st_sums[:, 2:3].clamp(min=0.0)), -st_max[:, 1:2], -st_max[:, 2:3], -st_max[:, 3:4],
        st_max[:, 4:5],
    ]
    stn = st.numpy()
    if presence_monotone:
        fgap = lev[:, graphdata.FRAUD_GAP_COL]
        share_sum = torch.zeros(n, dtype=f64).index_add_(0, ea_ev, lev[:, 2])
        tight = scatter_max(torch.stack([gap_cap - fgap.clamp(min=0.0), (fgap <= 0).to(fgap.dtype)], 1), ea_ev, n)
        cols[EVIDENCE_NAMES.index("evidence_weight_sum")] = share_sum.unsqueeze(1)
        cols[EVIDENCE_NAMES.index("evidence_tight_max")] = tight[:, 0:1]
        cols[EVIDENCE_NAMES.index("evidence_follower_max")] = tight[:, 1:2]
        # a sole holder is its identifier's first: a later link cannot flip the flag
        cols[len(EVIDENCE_NAMES) + STRUCT_NAMES.index("first_holder_max")] = scatter_max(
            first_linked(b, st).unsqueeze(1).double(), ea_st, n)
        # Neighbours' features as the highest and the lowest value among the account and the
        # accounts sharing its identifiers without labelled fraud: an added account can only
        # raise a maximum (+1) or lower a minimum (-1), not move a mean either way.
        burst = scatter_max(ls[:, list(graphdata.BURST_COLS)], ea_st, n).numpy()
        neighbours = [*neighbour_extremes(b, stn), burst if config.co_creation else np.zeros_like(burst)]
        if signup_view:
            assert b.e_prior is not None
            prior = b.e_prior[st].double()
            count = torch.zeros(n, dtype=f64).index_add_(0, ea_st, ones[st, 0]).clamp(min=1.0).unsqueeze(1)
            seen_mean = torch.zeros((n, prior.shape[1]), dtype=f64).index_add_(0, ea_st, prior) / count
            neighbours += [seen_mean.numpy(), scatter_max(prior[:, -1:], ea_st, n).numpy()]
        if cohesion:
            neighbours.append(graphdata.account_cohesion(b).numpy())
    else:
        neighbours = [neighbour_means(b, stn)]
    if config.ring_evidence:
        neighbours.append(graphdata.account_ring_evidence(b).numpy())
    if presence_monotone and config.evidence_prior:
        assert b.e_prior is not None
        held = torch.round(torch.expm1(b.e_prior[ev, -1].double()))  # the identifier's accounts when a linked
        if config.legit_dilutes:
            # its labelled accounts count too: a hub an account joined early, when it had 20 users, gains
            # 15 labelled fraudsters among 60 labelled legit users: 15 / 76, not 15 / 21 (labels only, so
            # no added account lowers it; a legit label may)
            held = torch.maximum(held, torch.round(f[ev, 0] + legit[ev, 0]))
        neighbours.append(scatter_max((f[ev, 0] / (held + 1.0)).unsqueeze(1), ea_ev, n).numpy())
    if config.label_share:
        # legit counted on the identifiers without labelled fraud only: a link that carries evidence adds
        # its fraud (or, with `legit_dilutes`, its share) to the numerator and as much to the denominator,
        # never any legit, so it cannot lower the share
        fraud = f
        if config.legit_dilutes:
            # each identifier adds its own fraud share, not its count: a hub whose earliest accounts include
            # 20 labelled fraudsters and 70 labelled legit adds 0.22, not 20 (its users read 0.18, not 0.95);
            # rounded through float32 so that sums in any edge order agree (online = batch)
            fraud = torch.where(f > 0, f / (f + legit).clamp(min=1.0), torch.zeros_like(f)).float().double()
        fl = torch.zeros((n, 2), dtype=f64).index_add_(0, b.e_acc, torch.cat([fraud, legit * st.unsqueeze(1)], 1))
        neighbours.append((fl[:, 0:1] / (fl[:, 0:1] + fl[:, 1:2] + 1.0)).numpy())
    out = np.concatenate([torch.cat(cols, dim=1).numpy(), *neighbours], axis=1).astype(np.float32)
    # Structure without creation-time spreads and gaps (see ModelConfig); one added account moves both.
    if not config.structural_timing or presence_monotone:
        for name in ("spread_min", "gap_min"):
            out[:, HOP1_NAMES.index(name)] = 0.0
    return out


def neighbour_means(b: GraphBatch, structural: np.ndarray) -> np.ndarray:
    """[Na, Da] the mean input features of the accounts messaging each of the account's
    `structural` identifiers, averaged over those identifiers: `graphdata.identifier_mean` (PyG)
    and one more product, no [E, Da] gathers."""
    n = b.x_acc.shape[0]
    neigh_at_id = graphdata.identifier_mean(b, b.x_acc).numpy()
    ea, ei = b.e_acc.numpy()[structural], b.e_id.numpy()[structural]
    cnt = np.bincount(ea, minlength=n).astype(np.float64)
    if len(ea) <= graphdata.SMALL_NNZ:  # online: a gather and index_add_ (scipy's per-call checks cost more)
        w = torch.from_numpy(neigh_at_id.astype(np.float64)[ei] / cnt[ea][:, None])
        return torch.zeros((n, w.shape[1]), dtype=torch.float64).index_add_(0, torch.from_numpy(ea), w).numpy()
    mean_edges = sp.csr_matrix((1.0 / cnt[ea], (ea, ei)), shape=(n, b.x_id.shape[0]), dtype=np.float64)
    return np.asarray(mean_edges @ neigh_at_id.astype(np.float64))


def neighbour_extremes(b: GraphBatch, structural: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([Na, Da], [Na, Da]): per account the max and the min of `x_acc` over itself and the
    messaging accounts of its `structural` identifiers (edges [E] bool)."""
    x = b.x_acc
    ni = b.x_id.shape[0]
    src = x[b.m_acc]
    idx = b.m_id.unsqueeze(1).expand_as(src)
    id_hi = x.new_full((ni, x.shape[1]), -torch.inf).scatter_reduce(0, idx, src, reduce="amax")
    id_lo = x.new_full((ni, x.shape[1]), torch.inf).scatter_reduce(0, idx, src, reduce="amin")
    st = torch.from_numpy(structural)
    ea, ei = b.e_acc[st], b.e_id[st]
    acc_idx = ea.unsqueeze(1).expand(len(ea), x.shape[1])
    hi = x.clone().scatter_reduce(0, acc_idx, id_hi[ei], reduce="amax")
    lo = x.clone().scatter_reduce(0, acc_idx, id_lo[ei], reduce="amin")
    return hi.numpy(), lo.numpy()


def hop1_monotone(config: ModelConfig, n_before: int, n_after: int) -> list[int]:
    """LightGBM `monotone_constraints` for [n_before columns, hop1_features(·, config), n_after columns]: +1 on
    the evidence features (ring evidence too); with `presence_monotone` also +1 on PRESENCE_RISING,
    the neighbours' maxima, BURST_NAMES and cohesion and -1 on the neighbours' minima; 0 elsewhere
    (the sign-up view too)."""
    presence_monotone, account_dim = config.presence_monotone, config.account_dim
    rising = PRESENCE_RISING if presence_monotone else ()
    struct = [1 if name in rising else 0 for name in STRUCT_NAMES]
    neigh = ([1] * account_dim + [-1] * account_dim + [1] * len(BURST_NAMES) if presence_monotone
             else [0] * account_dim)
    if presence_monotone and config.signup_view:
        neigh += [0] * (account_dim + 2)
    if presence_monotone and config.cohesion:
        neigh += [1] * graphdata.COHESION_DIM
    if config.ring_evidence:
        neigh += [1] * graphdata.RING_EVIDENCE_DIM
    if presence_monotone and config.evidence_prior:
        neigh += [1]
    if config.label_share:
        neigh += [1]
    return [0] * n_before + [1] * len(EVIDENCE_NAMES) + struct + neigh + [0] * n_after


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
            rounds: int = 400, threads: int = 2, monotone: list[int] | None = None) -> lgb.Booster:
    pos = max(float(y_tr.sum()), 1.0)
    params = {**lgb_params(seed, threads), "scale_pos_weight": float(np.sqrt((len(y_tr) - pos) / pos))}
    if monotone is not None and any(monotone):
        # "advanced" keeps every split monotone exactly (LightGBM checks the whole tree, not just the leaf)
        params.update(monotone_constraints=monotone, monotone_constraints_method="advanced")
    train = lgb.Dataset(x_tr, y_tr, free_raw_data=True)
    valid = lgb.Dataset(x_va, y_va, reference=train)
    return lgb.train(
        params, train, num_boost_round=rounds, valid_sets=[valid],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    out = {"roc_auc": float("nan"), "ap": float("nan"), "recall@1%": float("nan"), "recall@5%": float("nan"),
           "brier": float("nan"), "ece": float("nan")}
    if len(y):
        out["brier"] = float(np.mean((p - y) ** 2))
        out["ece"] = expected_calibration_error(y, p)
    if len(y) == 0 or y.min() == y.max():
        return out
    out["roc_auc"] = float(roc_auc_score(y, p))
    out["ap"] = float(average_precision_score(y, p))
    order = np.argsort(-p, kind="stable")
    for frac, key in ((0.01, "recall@1%"), (0.05, "recall@5%")):
        k = max(1, int(round(frac * len(p))))
        out[key] = float(y[order[:k]].sum() / y.sum())
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Σ_bins (n_bin / n) |mean(y) - mean(p)| over 10 equal-width probability bins."""
    k = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    n = np.bincount(k, minlength=bins)
    sy = np.bincount(k, weights=y, minlength=bins)
    sp_ = np.bincount(k, weights=p, minlength=bins)
    has = n > 0
    return float(np.sum(np.abs(sy[has] - sp_[has])) / max(len(p), 1))
