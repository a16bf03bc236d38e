"""Train the GNN and two tree baselines on the store's labelled accounts; ship the best.

    report = train(store, settings, seed=7)
    print(report.format_table())

Steps: stream the graph as of `as_of` (default: the latest time recorded in the store, never the
wall clock, so the same store, labels and seed give the same model; links, accounts and labels
recorded later are dropped), fit the feature schema, split the labelled accounts (stratified, seeded) into
train / validation, build the training views (`stack_views`: every labelled account as the sweep
sees it, as the onboarding call saw it at sign-up, and both again label-blind), then train on the
same split

Why label-blind views: a model learns P(fraud | structure, the labels in reach). Where most rings
carry a labelled member, pooled sharing with no labelled fraud in reach is mostly households, so
structure learns to read it as legit, and a tenant with fewer labels (or a ring nobody has caught
yet) gets its rings scored as families. The blind copies make structure carry suspicion on its
own; label evidence still adds on top through its monotone path. Cross-world, trained on the
default preset and evaluated on `second` (20k accounts; BENCHMARKS.md, issue #13): sign-up AUC 0.887
and rings with no labelled member in the top 5% 0.679 without them; 0.996 and 0.960 with them.

- `features`: LightGBM on the account's own features;
- `neighbour_gbt`: LightGBM on own features + neighbour aggregates (labelled fraud within 1 and
  2 hops excluding the account's own label, identifier degrees, neighbours' feature means);
- `gnn`: the heterogeneous GNN, full-batch, early-stopped on validation average precision;
- `hybrid`: LightGBM on the GNN's embedding + 1-hop aggregates;
- `blend`: the mean of the `gnn` and `hybrid` probabilities;
- `gnn_gbt`: the mean of the `gnn` probability and LightGBM on own features + 1-hop aggregates
  (`neighbour_gbt` without its 2-hop counts). Unlike the hybrid's, these trees never see the
  GNN's output, which on the training accounts is fitted to their own labels (the hybrid's trees
  learn to trust it too much): the two members' errors are closer to independent, so averaging
  cancels more of them (100k default world, 3 GNN seeds: validation AP 0.906-0.910 against
  0.902-0.907 for `blend` and 0.899-0.906 for `gnn`).

The shipped model is one of `gnn`, `hybrid`, `blend` and `gnn_gbt` (all computable from a 1-hop
subgraph, so online and batch scores agree), chosen on the validation split by a one-standard-error
rule: `gnn_gbt` unless another candidate's validation AP is higher by more than the standard error
of the paired difference (bootstrap over validation accounts). The candidates are near ties on a
validation split of a few thousand accounts, so the plain maximum mostly picks whichever was lucky
(100k default world, split seed 8: `hybrid` won validation by 0.0017 AP, yet `gnn_gbt` was ahead
by 0.014 AP on the held-out accounts). It is registered and activated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from ringfence.core.errors import InvalidInput
from ringfence.core.settings import Settings
from ringfence.gnn.baselines import fit_lgb, hop1_monotone, hop2_label_counts, metrics
from ringfence.gnn.features import IDENTIFIER_DIM, FeatureSchema
from ringfence.gnn.graphdata import GraphBatch, RawGraph, assemble, raw_from_arrays
from ringfence.gnn.model import ModelConfig, RingGNN, build_gnn
from ringfence.gnn.pointintime import SIGNUP_WINDOW_S, point_in_time, union
from ringfence.gnn.predictor import (
    CANDIDATES,
    Predictor,
    calibrate,
    fit_platt,
    gbt_features,
    gbt_monotone,
    hybrid_features,
    hybrid_monotone,
)
from ringfence.gnn.registry import Registry
from ringfence.graph.arrays import GraphArrays, load_arrays
from ringfence.graph.model import to_rfc3339
from ringfence.graph.store import GraphStore

Progress = Callable[[str, float], None]
SMALL_GRAPH = 20_000
METRIC_KEYS = ("roc_auc", "ap", "recall@1%", "recall@5%", "brier", "ece")
PREFERRED = "gnn_gbt"  # the default candidate of the selection rule (`select`)


@dataclass
class TrainConfig:
    hidden: int = 32
    dropout: float = 0.1
    lr: float = 0.02
    weight_decay: float = 1e-4
    max_epochs: int = 60
    patience: int = 10
    val_fraction: float = 0.2
    ship: str = "auto"  # "auto" (the one-standard-error rule of `select`) or one of `CANDIDATES`
    # Feed each account its own 2-hop label counts (online scoring then expands hops=2). Off by
    # default: on the 100k default world it did not raise held-out AP (0.918 vs 0.923 without) and
    # 2-hop expansion through hub-capped identifiers costs ~33 ms CPU per online call (p99 0.7 s).
    hop2: bool = False
    # Point-in-time examples (`gnn.pointintime`): each labelled account also as it looked at sign-up.
    point_in_time: bool = True
    # Structure reads creation-time spreads and gaps (`ModelConfig.structural_timing`). Off: timing
    # is a generator's habit (our default world makes every ring a burst; the `inverted` preset and
    # the issue #13 world do not), so it only tightens the evidence gate (BENCHMARKS.md, "Quality:
    # scores that follow the evidence": cross-preset sign-up AUC 0.971 vs 0.964 with it, recall of
    # unlabelled rings 0.844 vs 0.826, default-preset AP at 100k 0.938 vs 0.942).
    structural_timing: bool = False
    signup_window_s: float = SIGNUP_WINDOW_S
    # Label-blind copies (`label_blind`): every example once more with every label in its graph
    # hidden, so that structure alone has to carry the suspicion of rings nobody labelled.
    label_blind: bool = True
    # `MonotoneRingGNN` and presence-monotone trees: no account added later can lower another's risk,
    # by construction (a fraudster adds accounts). Off: `RingGNN`, whose means one added account moves
    # either way (ring cleaning in bench/quality.py: old members fell by up to 0.13; BENCHMARKS.md).
    presence_monotone: bool = True
    # With `presence_monotone`: each link also reads what the account saw there when it linked
    # (`graphdata.signup_view`), the sign-up view no later link can move (`ModelConfig.signup_view`).
    signup_view: bool = True
    # With `presence_monotone`: cohesion (`graphdata.cohesion`), the accounts bound to this one by two or
    # three identifiers, for the GNN and the trees (+1 constraints). A ring's members share a device,
    # a card and a bank account with the same accomplices; households and hub users rarely do.
    cohesion: bool = True
    # With `presence_monotone`: co-creation counts (`graphdata.BURST_COLS`) in the GNN and the trees. Off:
    # legit groups that sign up on one day (families, agencies) look like a ring's burst, so a model
    # trained where rings burst fills the top of the queue with families in a world where they do not
    # (20k worlds, bench/quality.py --cross: trained on `second`, unlabelled-ring recall@5% on `inverted`
    # 0.655 with them, 0.790 without; trained on `default`, 0.963-0.967 on `default` either way).
    co_creation: bool = False
    # Links into a ring with labelled fraud (`graphdata.ring_evidence`: labelled-fraud accounts bound to
    # this one by two or three identifiers) as label evidence: non-negative weights in the GNN, +1 in the
    # trees. A stolen card's owner shares one identifier with its thief; a ring member shares several.
    ring_evidence: bool = True
    # With `presence_monotone`: the evidence gate and the trees read how many accounts an identifier with
    # labelled fraud had when the account linked to it (`ModelConfig.evidence_prior`): fixed once linked.
    evidence_prior: bool = True
    # The trees read the fraud share among the labelled accounts at all the account's identifiers
    # (`ModelConfig.label_share`): the neighbour label rate, which no added account moves.
    label_share: bool = True
    # The trees' label share and evidence prior weigh an identifier's labelled fraud against its labelled
    # legit users (`ModelConfig.legit_dilutes`): an early user of a hub that later gathers 15 labelled
    # fraudsters among 60 labelled legit users reads 15 / 76, not 15 / 21, and a label share of 0.17, not 0.94.
    legit_dilutes: bool = True
    # torch threads for the GNN epochs: on a shared, loaded 2-core machine one thread costs half the
    # CPU of two (OpenMP barriers spin) and finishes sooner; LightGBM still uses `threads`.
    gnn_threads: int = 1


@dataclass
class TrainReport:
    version: str
    shipped: str
    metrics: dict[str, dict[str, float]]  # model -> metric -> value, on the validation split
    n_train: int
    n_val: int
    epochs: int
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)
    # With train(..., keep_predictions=True): every account's probability under each model
    # (aligned with predictions["account_ids"]), for benchmarks on held-out accounts.
    predictions: dict[str, Any] | None = None
    # The shipped model after Platt scaling, on the validation split it was fitted on (2 parameters).
    calibrated: dict[str, float] = field(default_factory=dict)

    def format_table(self) -> str:
        head = f"{'model':<16}" + "".join(f"{k:>11}" for k in METRIC_KEYS)
        lines = [f"validation split: {self.n_val} accounts ({self.n_train} trained on); shipped: {self.shipped}",
                 head, "-" * len(head)]
        for name, m in self.metrics.items():
            mark = " *" if name == self.shipped else ""
            lines.append(f"{name:<16}" + "".join(f"{m.get(k, float('nan')):>11.4f}" for k in METRIC_KEYS) + mark)
        if self.calibrated:
            lines.append(f"{'calibrated':<16}" + "".join(f"{self.calibrated.get(k, float('nan')):>11.4f}"
                                                          for k in METRIC_KEYS))
        lines.append(f"version {self.version}, {self.epochs} epochs, {self.seconds:.1f}s")
        return "\n".join(lines)


@contextlib.contextmanager
def deterministic(seed: int, threads: int = 2) -> Iterator[None]:
    """Seed everything and switch torch to deterministic algorithms for the block."""
    before = torch.are_deterministic_algorithms_enabled()
    threads_before = torch.get_num_threads()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.set_num_threads(threads_before)


def label_blind(raw: RawGraph) -> RawGraph:
    """`raw` with no label anywhere: how a tenant's graph looks where nobody has labelled a ring yet.

    Trained on alongside the examples as labelled, these copies keep the structural path from
    learning the training world's label density: without them it learns P(fraud | structure, no
    labelled fraud in reach), which is low where most rings carry labels (our default world) and
    then scores members of unlabelled rings as households (issue #13: a joiner sharing card, device
    and bank account with 4-9 unlabelled accounts scored 0.01 on the `second` world)."""
    return dataclasses.replace(raw, label=np.full_like(raw.label, -1))


def stack_views(views: list[tuple[RawGraph, np.ndarray]], y_examples: np.ndarray, in_val: np.ndarray,
                as_of: datetime) -> tuple[RawGraph, np.ndarray, np.ndarray, np.ndarray]:
    """The views side by side as one graph: (graph, train rows, validation rows, targets per row, -1
    where none). Each view's `rows` are its example accounts, aligned with `y_examples`; an account's
    examples in every view share its side of the split (`in_val`)."""
    raw: RawGraph | None = None
    tr, va = [], []
    y_parts = []
    for view, rows in views:
        offset = 0 if raw is None else len(raw.account_ids)
        raw = view if raw is None else union(raw, view, as_of)
        yv = np.full(len(view.account_ids), -1.0)
        yv[rows] = y_examples
        y_parts.append(yv)
        tr.append(offset + rows[~in_val])
        va.append(offset + rows[in_val])
    assert raw is not None
    return raw, np.concatenate(tr), np.concatenate(va), np.concatenate(y_parts)


def data_as_of(g: GraphArrays) -> datetime:
    """The latest time recorded in the store (account creations, links first seen, dated labels):
    the training snapshot, derived from the data so that retraining later gives the same model."""
    times = [g.created, g.e_first, g.labelled_at[np.isfinite(g.labelled_at)]]
    latest = max((float(t.max()) for t in times if t.size), default=0.0)
    return datetime.fromtimestamp(latest, UTC)


def split_labelled(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of labelled account indices into (train, validation)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(len(idx) * val_fraction))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def select(y: np.ndarray, p: dict[str, np.ndarray], seed: int, preferred: str = PREFERRED, rounds: int = 200) -> str:
    """The one-standard-error rule on validation AP: `preferred`, unless the best other candidate
    beats it by more than the bootstrap standard error of their paired AP difference."""
    ap = {m: average_precision_score(y, q) if 0 < y.sum() < len(y) else 0.0 for m, q in p.items()}
    best = max((m for m in p if m != preferred), key=lambda m: ap[m])
    margin = ap[best] - ap[preferred]
    if margin <= 0:
        return preferred
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(rounds):
        k = rng.integers(0, len(y), len(y))
        if 0 < y[k].sum() < len(k):
            diffs.append(average_precision_score(y[k], p[best][k]) - average_precision_score(y[k], p[preferred][k]))
    se = float(np.std(diffs)) if len(diffs) > 1 else float("inf")
    return best if margin > se else preferred


def train_epoch(model: RingGNN, batch: GraphBatch, idx: torch.Tensor, y: torch.Tensor, optimiser: torch.optim.Optimizer,
                pos_weight: torch.Tensor) -> float:
    """One full-batch step on the training accounts; returns the loss."""
    model.train()
    optimiser.zero_grad()
    logits = model(batch)[idx]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
    loss.backward()
    optimiser.step()
    return loss.item()


@torch.no_grad()
def evaluate(model: RingGNN, batch: GraphBatch, idx: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Metrics and probabilities on the accounts `idx`."""
    model.eval()
    p = torch.sigmoid(model(batch).double()).numpy()[idx]
    return metrics(y, p), p


def model_config(schema: FeatureSchema, cfg: TrainConfig) -> ModelConfig:
    return ModelConfig(schema.account_dim, IDENTIFIER_DIM, cfg.hidden, cfg.dropout, cfg.hop2, cfg.structural_timing,
                       cfg.presence_monotone, cfg.presence_monotone and cfg.signup_view,
                       cfg.presence_monotone and cfg.cohesion, cfg.co_creation, cfg.ring_evidence,
                       cfg.presence_monotone and cfg.evidence_prior, cfg.label_share,
                       cfg.legit_dilutes)


def fit_gnn(
    batch: GraphBatch, tr: np.ndarray, y_tr: np.ndarray, va: np.ndarray, y_va: np.ndarray, schema: FeatureSchema,
    cfg: TrainConfig, seed: int, progress: Progress | None = None,
) -> tuple[RingGNN, int]:
    torch.manual_seed(seed)
    model = build_gnn(model_config(schema, cfg))
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    pos = max(float(y_tr.sum()), 1.0)
    pos_weight = torch.tensor(np.sqrt((len(y_tr) - pos) / pos), dtype=torch.float32)
    idx_t = torch.from_numpy(tr)
    y_t = torch.from_numpy(y_tr.astype(np.float32))
    best_ap, best_state, best_epoch, epoch = -1.0, None, 0, 0
    for epoch in range(1, cfg.max_epochs + 1):
        train_epoch(model, batch, idx_t, y_t, optimiser, pos_weight)
        m, _ = evaluate(model, batch, va, y_va)
        ap = m["ap"] if np.isfinite(m["ap"]) else 0.0
        if ap > best_ap + 1e-6:
            best_ap, best_epoch = ap, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress:
            progress("gnn", epoch / cfg.max_epochs)
        if epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, epoch


def train(
    store: GraphStore,
    settings: Settings,
    seed: int = 7,
    progress: Progress | None = None,
    as_of: datetime | None = None,
    config: TrainConfig | None = None,
    activate: bool = True,
    keep_predictions: bool = False,
) -> TrainReport:
    """Train on the store's labelled accounts (as of `as_of`), register and activate the winner."""
    cfg = config or TrainConfig(presence_monotone=settings.train_presence_monotone)
    if cfg.ship != "auto" and cfg.ship not in CANDIDATES:
        raise InvalidInput(f"unknown model kind {cfg.ship!r}: use 'auto' or one of {', '.join(CANDIDATES)}")
    started = time.perf_counter()
    g = load_arrays(store, attributes=True)
    # No wall clock: the same store, labels and seed train the same model whenever it runs.
    as_of = as_of or data_as_of(g)
    with deterministic(seed):
        raw = raw_from_arrays(g, as_of, time_filter=True)
        assert g.attributes is not None
        keep_mask = g.created <= as_of.timestamp()
        keep = keep_mask.tolist()
        attrs = g.attributes if all(keep) else [a for a, k in zip(g.attributes, keep, strict=True) if k]
        labelled_at = g.labelled_at[keep_mask]
        del g
        # Small graphs: one thread (OpenMP wake-ups cost more than they save on tiny tensors).
        threads = 2 if len(raw.account_ids) >= SMALL_GRAPH else 1
        torch.set_num_threads(threads)
        schema = FeatureSchema.fit_attributes(attrs)
        raw.x_acc = schema.encode_attributes(raw.created, attrs, as_of)
        if progress:
            progress("load", 1.0)
        labelled = raw.label >= 0
        if int((raw.label == 1).sum()) < 2 or int((raw.label == 0).sum()) < 2:
            raise InvalidInput("training needs at least 2 fraud and 2 legit labels")
        tr, va = split_labelled(raw.label, cfg.val_fraction, seed)
        na = len(raw.account_ids)
        full_raw = raw
        examples = np.flatnonzero(labelled)
        # Each view holds every labelled account once (rows aligned with `examples`): the snapshot
        # that sweeps score and, to train as we serve, each account as the onboarding call saw it at
        # its sign-up (its own subgraph as of created_at + window; `gnn.pointintime`).
        views: list[tuple[RawGraph, np.ndarray]] = [(raw, examples)]
        if cfg.point_in_time:
            pit = point_in_time(raw, labelled_at, schema, attrs, examples, settings.hub_cap,
                                cfg.signup_window_s, as_of)
            views.append((pit.raw, pit.rows))
        if cfg.label_blind:
            views += [(label_blind(v), rows) for v, rows in views]
        raw, tr, va, y = stack_views(views, full_raw.label[examples], np.isin(examples, va), as_of)
        del attrs
        y_tr, y_va = y[tr], y[va]
        batch = assemble(raw, settings.hub_cap, as_of)

        results: dict[str, dict[str, float]] = {}
        # Baseline 1: own features only.
        x_own = raw.x_acc
        b1 = fit_lgb(x_own[tr], y_tr, x_own[va], y_va, seed, threads=threads)
        da = x_own.shape[1]
        results["features_gbt"] = metrics(y_va, np.asarray(b1.predict(x_own[va], num_threads=threads)))
        # Baseline 2: neighbour aggregates (1 and 2 hops), leave-self-out.
        # The baseline reads every neighbour aggregate (the published recipe); the shipped trees
        # read them as the shipped GNN's config allows (`presence_monotone`).
        mcfg = model_config(schema, cfg)
        recipe = dataclasses.replace(mcfg, presence_monotone=False, ring_evidence=False, label_share=False)
        x_all = gbt_features(batch, recipe)
        x_1hop = gbt_features(batch, mcfg)  # own features + 1-hop aggregates
        x_nb = np.concatenate([x_all, hop2_label_counts(raw, batch)], axis=1)
        b2 = fit_lgb(x_nb[tr], y_tr, x_nb[va], y_va, seed, threads=threads,
                     monotone=hop1_monotone(recipe, da, 0) + [1, 1])
        results["neighbour_gbt"] = metrics(y_va, np.asarray(b2.predict(x_nb[va], num_threads=threads)))
        if progress:
            progress("baselines", 1.0)
        # The GNN.
        torch.set_num_threads(min(cfg.gnn_threads, threads))
        gnn, epochs = fit_gnn(batch, tr, y_tr, va, y_va, schema, cfg, seed, progress)
        torch.set_num_threads(threads)
        results["gnn"], p_gnn_va = evaluate(gnn, batch, va, y_va)
        # Hybrid: trees on GNN embeddings + 1-hop aggregates.
        xh = hybrid_features(gnn, batch)
        booster = fit_lgb(xh[tr], y_tr, xh[va], y_va, seed, threads=threads, monotone=hybrid_monotone(gnn))
        p_hyb_va = np.asarray(booster.predict(xh[va], num_threads=threads))
        results["hybrid"] = metrics(y_va, p_hyb_va)
        results["blend"] = metrics(y_va, 0.5 * (p_gnn_va + p_hyb_va))
        # GNN + trees that never saw the GNN (see the module docstring).
        b3 = fit_lgb(x_1hop[tr], y_tr, x_1hop[va], y_va, seed, threads=threads, monotone=gbt_monotone(mcfg))
        p_va = {"gnn": p_gnn_va, "hybrid": p_hyb_va, "blend": 0.5 * (p_gnn_va + p_hyb_va),
                "gnn_gbt": 0.5 * (p_gnn_va + np.asarray(b3.predict(x_1hop[va], num_threads=threads)))}
        results["gnn_gbt"] = metrics(y_va, p_va["gnn_gbt"])
        predictions: dict[str, Any] | None = None
        if keep_predictions:
            gnn.eval()
            with torch.no_grad():
                p_gnn = torch.sigmoid(gnn(batch).double()).numpy()
            predictions = {
                "account_ids": full_raw.account_ids,
                "features_gbt": b1.predict(x_own[:na], num_threads=threads),
                "neighbour_gbt": b2.predict(x_nb[:na], num_threads=threads),
                "gnn": p_gnn[:na],
                "hybrid": booster.predict(xh[:na], num_threads=threads),
            }
            predictions["blend"] = 0.5 * (predictions["gnn"] + predictions["hybrid"])
            predictions["gnn_gbt"] = 0.5 * (p_gnn[:na] + b3.predict(x_1hop[:na], num_threads=threads))
        shipped = select(y_va, p_va, seed) if cfg.ship == "auto" else cfg.ship
        # Platt scaling on validation (strictly increasing: rankings and monotonicity are kept).
        calibration = fit_platt(p_va[shipped], y_va)
        calibrated = metrics(y_va, calibrate(p_va[shipped], calibration))
    tree = {"gnn": None, "hybrid": booster, "blend": booster, "gnn_gbt": b3}[shipped]
    predictor = Predictor("", schema, gnn, shipped, tree, settings.hub_cap, calibration)
    data_stats = {
        "accounts": na,
        "point_in_time_examples": len(examples) if cfg.point_in_time else 0,
        "views": len(views),  # snapshot, sign-up (point in time), and label-blind copies of each
        "identifiers": len(full_raw.id_keys),
        "links": len(full_raw.e_acc),
        "labelled": int(labelled.sum()),
        "fraud_labels": int((full_raw.label == 1).sum()),
        "train": len(tr),
        "validation": len(va),
        "as_of": to_rfc3339(as_of),
    }
    meta: dict[str, Any] = {
        "config": gnn.config.to_dict(),
        "schema": schema.to_dict(),
        "kind": shipped,
        "hub_cap": settings.hub_cap,
        "seed": seed,
        "train_config": cfg.__dict__,
        "metrics": results,
        "data": data_stats,
        "epochs": epochs,
        "calibration": list(calibration),
        "calibrated_metrics": calibrated,
        "booster": predictor.booster.model_to_string() if predictor.booster is not None else None,
    }
    registry = Registry(settings.models_dir)
    version = registry.save(gnn.state_dict(), meta)
    if activate:
        registry.activate(version)
    return TrainReport(version, shipped, results, len(tr), len(va), epochs, time.perf_counter() - started, data_stats,
                       predictions, calibrated)
