"""A trained model as scoring uses it: schema + GNN (+ an optional LightGBM model).

Kinds (`CANDIDATES`; `gnn.train` explains each): `gnn`; `hybrid`, trees on `hybrid_features`;
`blend`, the mean of `gnn` and `hybrid`; `gnn_gbt`, the mean of `gnn` and trees on
`gbt_features` (own features + 1-hop aggregates, no GNN input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import torch
from scipy.special import expit

from ringfence.gnn.baselines import hop1_features, hop1_monotone
from ringfence.gnn.features import FeatureSchema
from ringfence.gnn.graphdata import HOP2_DIM, GraphBatch
from ringfence.gnn.model import ModelConfig, RingGNN, build_gnn
from ringfence.gnn.registry import ModelBundle

CANDIDATES = ("gnn", "hybrid", "blend", "gnn_gbt")


@dataclass
class Predictor:
    version: str
    schema: FeatureSchema
    gnn: RingGNN
    kind: str  # one of CANDIDATES
    booster: lgb.Booster | None = None
    hub_cap: int | None = None
    # Platt scaling (a > 0, b) fitted on validation: p -> sigmoid(a * logit(p) + b), strictly
    # increasing, so rankings and monotonicity in the evidence are kept; None: uncalibrated.
    calibration: tuple[float, float] | None = None

    def predict(self, b: GraphBatch, rows: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
        """Calibrated fraud probabilities (float64) for the accounts `rows` of the batch (all by default)."""
        return calibrate(self.predict_raw(b, rows, threads), self.calibration)

    @torch.no_grad()
    def predict_raw(self, b: GraphBatch, rows: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
        """Fraud probabilities (float64) before calibration."""
        if self.gnn.training:  # eval() walks every submodule: ~1 ms of an online score
            self.gnn.eval()
        if self.kind == "gnn":
            logits = self.gnn(b)
            p = torch.sigmoid(logits.double()).numpy()
            return p if rows is None else p[rows]
        if self.kind == "gnn_gbt":
            p_gnn = torch.sigmoid(self.gnn(b).double()).numpy()
            x = gbt_features(b, self.gnn.config)
            if rows is not None:
                p_gnn, x = p_gnn[rows], x[rows]
            assert self.booster is not None
            return 0.5 * (p_gnn + np.asarray(self.booster.predict(x, num_threads=threads), dtype=np.float64))
        feats = hybrid_features(self.gnn, b)
        if rows is not None:
            feats = feats[rows]
        assert self.booster is not None
        p_tree = np.asarray(self.booster.predict(feats, num_threads=threads), dtype=np.float64)
        if self.kind == "hybrid":
            return p_tree
        # "blend": the GNN's logit is one of the hybrid's features, so recomputing it is cheap.
        p_gnn = 1.0 / (1.0 + np.exp(-feats[:, self.gnn.config.hidden].astype(np.float64)))  # the full logit
        return 0.5 * (p_gnn + p_tree)

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> Predictor:
        meta = bundle.meta
        config = ModelConfig(**meta["config"])
        gnn = build_gnn(config)
        gnn.load_state_dict(bundle.tensors)
        gnn.eval()
        booster = lgb.Booster(model_str=meta["booster"]) if meta.get("booster") else None
        cal = meta.get("calibration")
        return cls(bundle.version, FeatureSchema.from_dict(meta["schema"]), gnn, meta["kind"], booster,
                   meta.get("hub_cap"), (float(cal[0]), float(cal[1])) if cal else None)


@torch.no_grad()
def hybrid_features(gnn: RingGNN, b: GraphBatch) -> np.ndarray:
    """GNN embedding, the GNN's own logit, and the 1-hop aggregates (all online-computable)."""
    if gnn.training:
        gnn.eval()
    h = gnn.embed(b)  # structure only: the embedding never reads label evidence
    logit = gnn.structure_logit(b, h) + gnn.evidence(b)
    c = gnn.config
    parts = [h.numpy(), logit.unsqueeze(1).numpy(),
             hop1_features(b, c),
             b.x_acc.numpy()]
    if gnn.config.hop2 and b.hop2 is not None:
        parts.append(np.asarray(b.hop2, dtype=np.float32))
    return np.concatenate(parts, axis=1)


def hybrid_monotone(gnn: RingGNN) -> list[int]:
    """`monotone_constraints` of `hybrid_features`: +1 on the GNN's logit, the evidence columns and
    the 2-hop counts; with `presence_monotone` also on the embedding (non-decreasing in presence)."""
    c = gnn.config
    return ([1 if c.presence_monotone else 0] * c.hidden + [1]
            + hop1_monotone(c, 0, c.account_dim)
            + ([1] * HOP2_DIM if c.hop2 else []))


def gbt_monotone(config: ModelConfig) -> list[int]:
    """`monotone_constraints` of `gbt_features`."""
    return hop1_monotone(config, config.account_dim, 0)


def calibrate(p: np.ndarray, calibration: tuple[float, float] | None) -> np.ndarray:
    if calibration is None:
        return p
    a, b = calibration
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return np.asarray(expit(a * np.log(q / (1 - q)) + b), dtype=np.float64)


def fit_platt(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling on the logit of `p` (Platt's smoothed targets, damped Newton steps on the log
    loss, so a separable validation split cannot run away); the slope kept > 0."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    x = np.log(q / (1 - q))
    y = np.asarray(y, dtype=np.float64)
    n_pos, n_neg = float(y.sum()), float(len(y) - y.sum())
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        z = expit(a * x + b)
        g = np.array([np.sum((z - t) * x), np.sum(z - t)])
        w = z * (1 - z) + 1e-9
        h = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 1e-3 * np.eye(2)
        step = np.clip(np.linalg.solve(h, g), -1.0, 1.0)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return (min(max(float(a), 1e-3), 1e3), float(np.clip(b, -1e3, 1e3)))


def gbt_features(b: GraphBatch, config: ModelConfig) -> np.ndarray:
    """[Na, Da + hop1_features]: own features and the 1-hop aggregates (online-computable)."""
    return np.concatenate([b.x_acc.numpy(), hop1_features(b, config)], axis=1)


def meta_for(predictor: Predictor) -> dict[str, Any]:
    return {"config": predictor.gnn.config.to_dict(), "schema": predictor.schema.to_dict(), "kind": predictor.kind}
