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

from ringfence.gnn.baselines import hop1_features
from ringfence.gnn.features import FeatureSchema
from ringfence.gnn.graphdata import HOP2_DIM, GraphBatch
from ringfence.gnn.model import ModelConfig, RingGNN
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

    @torch.no_grad()
    def predict(self, b: GraphBatch, rows: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
        """Fraud probabilities (float64) for the accounts `rows` of the batch (all by default)."""
        if self.gnn.training:  # eval() walks every submodule: ~1 ms of an online score
            self.gnn.eval()
        if self.kind == "gnn":
            logits = self.gnn(b)
            p = torch.sigmoid(logits.double()).numpy()
            return p if rows is None else p[rows]
        if self.kind == "gnn_gbt":
            p_gnn = torch.sigmoid(self.gnn(b).double()).numpy()
            x = gbt_features(b)
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
        p_gnn = 1.0 / (1.0 + np.exp(-feats[:, self.gnn.config.hidden].astype(np.float64)))
        return 0.5 * (p_gnn + p_tree)

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> Predictor:
        meta = bundle.meta
        config = ModelConfig(**meta["config"])
        gnn = RingGNN(config)
        gnn.load_state_dict(bundle.tensors)
        gnn.eval()
        booster = lgb.Booster(model_str=meta["booster"]) if meta.get("booster") else None
        return cls(bundle.version, FeatureSchema.from_dict(meta["schema"]), gnn, meta["kind"], booster,
                   meta.get("hub_cap"))


@torch.no_grad()
def hybrid_features(gnn: RingGNN, b: GraphBatch) -> np.ndarray:
    """GNN embedding, the GNN's own logit, and the 1-hop aggregates (all online-computable)."""
    if gnn.training:
        gnn.eval()
    h = gnn.embed(b)
    own = gnn.own_labels(b)
    logit = gnn.head(torch.cat([h, b.x_acc, own], dim=1))
    parts = [h.numpy(), logit.numpy(), hop1_features(b), b.x_acc.numpy()]
    if gnn.config.hop2:
        parts.append(own[:, -HOP2_DIM:].numpy())
    return np.concatenate(parts, axis=1)


def gbt_features(b: GraphBatch) -> np.ndarray:
    """[Na, Da + len(HOP1_NAMES) + Da]: own features and the 1-hop aggregates (online-computable)."""
    return np.concatenate([b.x_acc.numpy(), hop1_features(b)], axis=1)


def meta_for(predictor: Predictor) -> dict[str, Any]:
    return {"config": predictor.gnn.config.to_dict(), "schema": predictor.schema.to_dict(), "kind": predictor.kind}
