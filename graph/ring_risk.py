"""Ring risk: member scores from the GNN, labels among members, and structure, in one logistic.

    z = -10
        + 2.5 · (distinct identifier types tying the group − 1)      # rings reuse devices AND cards AND banks
        + 1.5 · (min(identifiers shared per member, 3) − 1)          # several shared identifiers each
        + 3.0 · burst                                                 # share created within ±2 days of the median
        + 2.5 · mean member score (GNN / heuristic)
        + 2.5 · ln(1 + fraud labels among members)
        − 1.5 · ln(1 + legit labels among members)
        + 1.5 · ln(size)
    risk = sigmoid(z)

Households (2–4 accounts sharing a device and/or a card, created weeks apart) and agencies
(5–20 accounts paid out to one bank account, created over months) are tied by one or two
identifier types, one identifier per member, and are spread in time: they stay far below 0.5
even when large. The weights are a rounded logistic fit on the default synthetic preset,
checked on the second preset (`bench/rings.py` prints both): at 100k accounts, of the groups
scored ≥ 0.5, 99.7% (default) and 97.8% (second) are mostly fraud, with no household or agency.
"""

from __future__ import annotations

import math

import numpy as np

WEIGHTS = {
    "bias": -10.0,
    "tie_types": 2.5,
    "shared_per_member": 1.5,
    "burst": 3.0,
    "member_score": 2.5,
    "fraud_labels": 2.5,
    "legit_labels": -1.5,
    "log_size": 1.5,
}


def ring_risk(features: dict[str, float], member_scores: np.ndarray | list[float]) -> float:
    """Risk in [0, 1] of one group from its structural features (see `graph.detection`:
    tie_types, shared_per_member, burst, fraud_labels, legit_labels, size) and its members'
    account scores."""
    w = WEIGHTS
    scores = np.asarray(member_scores, dtype=np.float64)
    mean_score = float(scores.mean()) if scores.size else 0.0
    z = (
        w["bias"]
        + w["tie_types"] * max(features.get("tie_types", 0.0) - 1.0, 0.0)
        + w["shared_per_member"] * (min(features.get("shared_per_member", 1.0), 3.0) - 1.0)
        + w["burst"] * features.get("burst", 0.0)
        + w["member_score"] * mean_score
        + w["fraud_labels"] * math.log1p(features.get("fraud_labels", 0.0))
        + w["legit_labels"] * math.log1p(features.get("legit_labels", 0.0))
        + w["log_size"] * math.log(max(features.get("size", 1.0), 1.0))
    )
    return 1.0 / (1.0 + math.exp(-z))
