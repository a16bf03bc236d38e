"""A trained model as scoring uses it: schema + GNN (+ optional LightGBM head for the hybrid)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import torch

from gnn.baselines import hop1_features
from gnn.features import FeatureSchema
from gnn.graphdata import HOP2_DIM, GraphBatch
from gnn.model import ModelConfig, RingGNN
from gnn.registry import ModelBundle


@dataclass
class Predictor:
    version: str
    schema: FeatureSchema
    gnn: RingGNN
    kind: str  # "gnn", "hybrid" or "blend" (mean of the two probabilities)
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


def meta_for(predictor: Predictor) -> dict[str, Any]:
    return {"config": predictor.gnn.config.to_dict(), "schema": predictor.schema.to_dict(), "kind": predictor.kind}
