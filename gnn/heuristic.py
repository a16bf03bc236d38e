"""Cold-start risk, used until a model is trained (`model_version = "heuristic-1"`).

    z    = -4.0
         + 2.0 · log1p(labelled-fraud accounts sharing an identifier with it, itself excluded)
         + 1.5 · [it is a member of a ring in the current sweep]
         + 0.8 · log1p(identifiers it shares with 1..hub_cap others)
         + 0.4 · log1p(distinct accounts reachable through those identifiers, hub-capped)
         - 0.5 · [all its shared identifiers are hubs]
    risk = sigmoid(z)

Proximity to labelled fraud dominates, then ring structure, then shared-identifier density.
It reads the same `GraphBatch` as the model, so online and batch heuristic scores agree.
"""

from __future__ import annotations

import numpy as np

from ringfence.gnn.graphdata import GraphBatch

VERSION = "heuristic-1"


def heuristic_risk(b: GraphBatch, in_ring: np.ndarray) -> np.ndarray:
    """Risk per account of the batch (float64 [Na]); `in_ring` is bool [Na]."""
    n = b.x_acc.shape[0]
    e_acc = b.e_acc.numpy()
    e_id = b.e_id.numpy()
    lab = b.e_lab.numpy().astype(np.float64)
    fraud_near = np.bincount(e_acc, weights=np.expm1(lab[:, 0]).round(), minlength=n)
    degree = np.expm1(b.x_id.numpy()[:, 3].astype(np.float64)).round()
    capped = b.x_id.numpy()[:, 6] > 0.5
    shared = (degree[e_id] >= 2) & ~capped[e_id]
    n_shared = np.bincount(e_acc, weights=shared.astype(np.float64), minlength=n)
    reach = np.bincount(e_acc, weights=np.where(capped[e_id], 0.0, np.maximum(degree[e_id] - 1, 0.0)), minlength=n)
    hub_only = (np.bincount(e_acc, weights=capped[e_id].astype(np.float64), minlength=n) > 0) & (n_shared == 0)
    z = (-4.0 + 2.0 * np.log1p(fraud_near) + 1.5 * in_ring.astype(np.float64) + 0.8 * np.log1p(n_shared)
         + 0.4 * np.log1p(reach) - 0.5 * hub_only)
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)
