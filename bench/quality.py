"""Model quality on held-out accounts: synthetic worlds (two presets) and the real Tolokers graph.

    .venv/bin/python bench/quality.py [--accounts 100000] [--skip-tolokers] [--skip-second] [--only NAME] [--hop2]

Honesty rules: before anything is loaded, the labels of a random 25% of the labelled
accounts are removed from the records (so the store, the features, the label-proximity
messages and the training never see them); scores come from the real pipeline (SQLite store →
`gnn.train.train` → registry → `Scorer.score_all`). Evaluation is on every account without a
label in the store (the held-out ones plus those never labelled; truth comes from the
generator), and separately on the held-out labelled ones. Baselines are the ones `train` fits
on the same split, predicting the same accounts.

Tolokers (real data, /work/shared/datasets/tolokers/tolokers.npz): one account per worker,
one `device` identifier per edge shared by its two endpoints (`tk-e<edge>`), the 10 features
as attributes, labels of the official split-0 train nodes only; ROC-AUC on split-0 test nodes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

import numpy as np

from ringfence.core.settings import Settings
from ringfence.gnn.baselines import metrics
from ringfence.gnn.score import Scorer
from ringfence.gnn.train import METRIC_KEYS, TrainConfig, train
from ringfence.graph.loader import load_records
from ringfence.graph.sqlite_store import SQLiteStore

TOLOKERS = Path("/work/shared/datasets/tolokers/tolokers.npz")
TOLOKERS_CREATED = datetime(2024, 1, 1, tzinfo=UTC)
TOLOKERS_AS_OF = datetime(2024, 1, 2, tzinfo=UTC)
MODELS = ("shipped", "gnn", "hybrid", "blend", "gnn_gbt", "neighbour_gbt", "features_gbt")


def _table(title: str, rows: dict[str, dict[str, float]], extra: dict[str, str] | None = None) -> str:
    head = f"{'model':<16}" + "".join(f"{k:>11}" for k in METRIC_KEYS)
    out = [title, head, "-" * len(head)]
    for name, m in rows.items():
        out.append(f"{name:<16}" + "".join(f"{m.get(k, float('nan')):>11.4f}" for k in METRIC_KEYS))
    for k, v in (extra or {}).items():
        out.append(f"  {k}: {v}")
    return "\n".join(out)


CONFIG = TrainConfig()


def _run_pipeline(records: list[dict[str, Any]], workdir: Path, seed: int, as_of: datetime,
                  ) -> tuple[Any, dict[str, float], float]:
    store = SQLiteStore(workdir / "g.db")
    store.migrate()
    t0 = time.perf_counter()
    for _ in load_records(store, records):
        pass
    load_s = time.perf_counter() - t0
    settings = Settings(data_dir=workdir)
    report = train(store, settings, seed=seed, keep_predictions=True, config=CONFIG, as_of=as_of)
    scores = Scorer.load(settings).score_all(store, as_of=as_of)
    store.close()
    return report, scores, load_s


def synthetic(preset: str, seed: int, accounts: int, holdout: float, train_seed: int) -> str:
    from ringfence.graph.synthetic import generate, params_for

    t0 = time.perf_counter()
    params = params_for(preset, accounts=accounts, seed=seed)
    records = list(generate(params))
    # A fixed point in time, a day after the world ends: time features (ages) then do not depend
    # on when the benchmark runs (with "now", session-to-session figures drifted by ~0.003 AP).
    as_of = params.start + timedelta(days=params.days + params.late_days + 1)
    truth = {r["id"]: r["truth"] for r in records}
    labelled = [r["id"] for r in records if r.get("label")]
    rng = np.random.default_rng(seed + 1000)
    hidden = set(rng.choice(labelled, int(round(holdout * len(labelled))), replace=False).tolist())
    for r in records:
        if r["id"] in hidden or r.get("label") not in ("fraud", "legit"):
            r["label"] = None
        r.pop("truth", None)
    stored_label = {r["id"]: r["label"] for r in records}
    with tempfile.TemporaryDirectory(prefix="rf-quality-") as tmp:
        report, scores, load_s = _run_pipeline(records, Path(tmp), train_seed, as_of)
    preds = report.predictions
    ids = preds["account_ids"]
    eval_idx = np.array([k for k, a in enumerate(ids) if stored_label[a] is None])
    held_idx = np.array([k for k, a in enumerate(ids) if a in hidden])
    y = np.array([truth[a]["fraud"] for a in ids], dtype=int)
    shipped = np.array([scores[a] for a in ids])
    models = {"shipped": shipped, **{m: np.asarray(preds[m]) for m in MODELS[1:]}}
    rows_all = {m: metrics(y[eval_idx], p[eval_idx]) for m, p in models.items()}
    rows_held = {m: metrics(y[held_idx], p[held_idx]) for m, p in models.items()}
    # Rings without any labelled member (in the store): recall of their members in the top 5%.
    group_labelled: dict[str, bool] = {}
    for a in ids:
        t = truth[a]
        if t["kind"] == "ring":
            group_labelled[t["group"]] = group_labelled.get(t["group"], False) or stored_label[a] is not None
    unl = np.array([truth[a]["kind"] == "ring" and not group_labelled[truth[a]["group"]] for a in ids])
    extra = {}
    for m in ("shipped", "gnn_gbt", "neighbour_gbt", "features_gbt"):
        p = models[m][eval_idx]
        k = int(round(0.05 * len(p)))
        top = np.zeros(len(ids), dtype=bool)
        top[eval_idx[np.argsort(-p, kind="stable")[:k]]] = True
        rec = float(top[unl].mean()) if unl.any() else float("nan")
        extra[f"unlabelled-ring recall@5% ({m})"] = f"{rec:.4f} over {int(unl.sum())} members"
    late = np.array([truth[a]["late"] for a in ids])
    late_idx = np.flatnonzero(late)
    if late_idx.size and y[late_idx].min() != y[late_idx].max():
        extra["late stream (shipped)"] = "  ".join(
            f"{k}={v:.4f}" for k, v in metrics(y[late_idx], shipped[late_idx]).items())
    extra["shipped model"] = f"{report.shipped} ({report.version}), trained in {report.seconds:.1f}s, " \
        f"{report.epochs} epochs; load {load_s:.1f}s; total {time.perf_counter() - t0:.1f}s; " \
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    extra["validation (train-time)"] = "  ".join(f"{m}: AP {v['ap']:.4f}" for m, v in report.metrics.items())
    title = (f"synthetic preset={preset} seed={seed} accounts={accounts}: {len(eval_idx)} accounts without a stored "
             f"label ({int(y[eval_idx].sum())} fraud)")
    return "\n".join([
        _table(title, rows_all, extra),
        _table(f"  held-out labelled only: {len(held_idx)} accounts ({int(y[held_idx].sum())} fraud)", rows_held),
    ])


def tolokers_records(split: int = 0) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    data = np.load(TOLOKERS)
    x, labels, edges = data["node_features"], data["node_labels"], data["edges"]
    train_mask, test_mask = data["train_masks"][split], data["test_masks"][split]
    n = x.shape[0]
    created = TOLOKERS_CREATED.isoformat()
    links: list[list[dict[str, str]]] = [[] for _ in range(n)]
    for e, (u, v) in enumerate(edges.tolist()):
        link = {"type": "device", "id": f"tk-e{e}"}
        links[u].append(link)
        links[v].append(link)
    records = []
    for i in range(n):
        label = ("fraud" if labels[i] == 1 else "legit") if train_mask[i] else None
        attrs = {f"f{k}": float(x[i, k]) for k in range(x.shape[1])}
        own = links[i]
        # The loader takes at most 256 links per record: repeat the record (upserts merge).
        for lo in range(0, max(len(own), 1), 256):
            records.append({"id": f"tk-{i:05d}", "created_at": created, "attributes": attrs,
                            "links": own[lo:lo + 256], "label": label})
    return records, labels, test_mask


def tolokers(train_seed: int) -> str:
    t0 = time.perf_counter()
    records, labels, test_mask = tolokers_records(0)
    with tempfile.TemporaryDirectory(prefix="rf-tolokers-") as tmp:
        report, scores, load_s = _run_pipeline(records, Path(tmp), train_seed, TOLOKERS_AS_OF)
    preds = report.predictions
    ids = preds["account_ids"]
    idx = np.array([int(a[3:]) for a in ids])
    y = labels[idx]
    test = test_mask[idx]
    models = {"shipped": np.array([scores[a] for a in ids]), **{m: np.asarray(preds[m]) for m in MODELS[1:]}}
    rows = {m: metrics(y[test], p[test]) for m, p in models.items()}
    extra = {"shipped model": f"{report.shipped}; load {load_s:.1f}s, train {report.seconds:.1f}s, "
                              f"total {time.perf_counter() - t0:.1f}s; load average "
                              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
             "shipped test ROC-AUC, unrounded": f"{rows['shipped']['roc_auc']:.6f}",
             "reference": "published GNNs ~0.83-0.84 ROC-AUC (Platonov et al. 2023)"}
    return _table(f"tolokers split 0: test {int(test.sum())} workers ({int(y[test].sum())} banned)", rows, extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--holdout", type=float, default=0.25)
    parser.add_argument("--train-seed", type=int, default=Settings().seed)
    parser.add_argument("--skip-second", action="store_true")
    parser.add_argument("--skip-tolokers", action="store_true")
    parser.add_argument("--only", choices=["default", "second", "tolokers", "none"], default=None)
    parser.add_argument("--hop2", action="store_true", help="train with the 2-hop label-count inputs")
    parser.add_argument("--structural-timing", action="store_true",
                        help="train with ModelConfig.structural_timing on (structure reads spreads and gaps)")
    parser.add_argument("--ring-gnn", action="store_true",
                        help="train the earlier RingGNN and its trees (TrainConfig.presence_monotone off)")
    parser.add_argument("--no-cohesion", action="store_true", help="train without cohesion (TrainConfig.cohesion)")
    parser.add_argument("--co-creation", action="store_true",
                        help="train with co-creation counts (TrainConfig.co_creation)")
    parser.add_argument("--no-ring-evidence", action="store_true",
                        help="train without ring evidence (TrainConfig.ring_evidence)")
    parser.add_argument("--no-evidence-prior", action="store_true",
                        help="train without the accounts an evidence identifier had at link time "
                             "(TrainConfig.evidence_prior)")
    parser.add_argument("--no-label-share", action="store_true",
                        help="train without the neighbours' labelled fraud share (TrainConfig.label_share)")
    parser.add_argument("--no-legit-dilutes", action="store_true",
                        help="train with a hub's labelled legit users left out of the trees' label share and "
                             "evidence prior (TrainConfig.legit_dilutes)")
    parser.add_argument("--max-epochs", type=int, default=TrainConfig.max_epochs)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--cross", default=None, help="train presets for the cross-world run, comma-separated")
    parser.add_argument("--eval", default="default,second,recruiting,inverted", help="evaluation presets")
    parser.add_argument("--eval-seed", type=int, default=101, help="world seed of the evaluation worlds")
    args = parser.parse_args()
    global CONFIG
    CONFIG = TrainConfig(hop2=args.hop2, structural_timing=args.structural_timing,
                         presence_monotone=not args.ring_gnn, cohesion=not args.no_cohesion,
                         co_creation=args.co_creation, ring_evidence=not args.no_ring_evidence,
                         evidence_prior=not args.no_evidence_prior, label_share=not args.no_label_share,
                         legit_dilutes=not args.no_legit_dilutes,
                         max_epochs=args.max_epochs, lr=args.lr)
    print(f"train config: {CONFIG}", flush=True)
    if args.cross:
        print(cross_world(args.cross.split(","), args.eval.split(","), args.accounts, args.holdout,
                          args.train_seed, args.eval_seed), flush=True)
        return
    runs = []
    if args.only in (None, "default"):
        runs.append(lambda: synthetic("default", 1, args.accounts, args.holdout, args.train_seed))
    if args.only in (None, "second") and not args.skip_second:
        runs.append(lambda: synthetic("second", 2, args.accounts, args.holdout, args.train_seed))
    if args.only in (None, "tolokers") and not args.skip_tolokers:
        runs.append(lambda: tolokers(args.train_seed))
    for run in runs:
        print(run(), end="\n\n", flush=True)



# -- cross-world: train on one preset, evaluate on fresh worlds of every preset through the API's paths --
def _hide_labels(records: list[dict[str, Any]], holdout: float, seed: int) -> dict[str, dict[str, Any]]:
    """Drop `holdout` of the labels and the truth from `records` (in place); returns the truth by id."""
    truth = {r["id"]: r.pop("truth") for r in records}
    labelled = [r["id"] for r in records if r.get("label")]
    rng = np.random.default_rng(seed + 1000)
    k = int(round(holdout * len(labelled)))
    hidden = set(rng.choice(labelled, k, replace=False).tolist()) if labelled else set()
    for r in records:
        if r["id"] in hidden:
            r["label"] = None
    return truth


def _world(preset: str, seed: int, accounts: int, holdout: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                          dict[str, dict[str, Any]], datetime]:
    """(main-world records, late-stream records in creation order, truth, end of the main world)."""
    from ringfence.graph.synthetic import generate, params_for

    params = params_for(preset, accounts=accounts, seed=seed)
    records = list(generate(params))
    truth = _hide_labels(records, holdout, seed)
    main = [r for r in records if not truth[r["id"]]["late"]]
    late = sorted((r for r in records if truth[r["id"]]["late"]), key=lambda r: r["created_at"])
    for r in late:
        r["label"] = None
    return main, late, truth, params.start + timedelta(days=params.days)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return metrics(y, p)["roc_auc"] if len(y) and 0 < y.sum() < len(y) else float("nan")


def evaluate_world(scorer: Scorer, preset: str, seed: int, accounts: int, holdout: float,
                   workdir: Path) -> dict[str, float]:
    """One evaluation world, never seen in training or model selection, through the API's scoring paths:
    sweep (`score_all`) for the existing accounts, sync (`score_accounts` right after each sign-up's upsert,
    as of its creation plus the sign-up window) for the late stream, sweep again, then ring cleaning."""
    from ringfence.gnn.pointintime import SIGNUP_WINDOW_S
    from ringfence.graph.model import AccountIn, Link

    main, late, truth, end = _world(preset, seed, accounts, holdout)
    store = SQLiteStore(workdir / f"eval-{preset}-{seed}.db")
    store.migrate()
    for _ in load_records(store, main):
        pass
    stored_label = {r["id"]: r.get("label") for r in main}
    ids = [r["id"] for r in main if stored_label[r["id"]] is None]
    y = np.array([truth[a]["fraud"] for a in ids], dtype=int)
    before = scorer.score_all(store, as_of=end)
    p0 = np.array([before[a] for a in ids])
    out: dict[str, float] = {"existing AUC": _auc(y, p0), "existing AP": metrics(y, p0)["ap"]}
    # unlabelled rings: members in the top 5% of the accounts without a stored label
    labelled_group = {truth[a]["group"] for a, lab in stored_label.items() if lab and truth[a]["kind"] == "ring"}
    unl = np.array([truth[a]["kind"] == "ring" and truth[a]["group"] not in labelled_group for a in ids])
    top = np.zeros(len(ids), dtype=bool)
    top[np.argsort(-p0, kind="stable")[: int(round(0.05 * len(ids)))]] = True
    out["unlabelled-ring recall@5%"] = float(top[unl].mean()) if unl.any() else float("nan")
    # sign-ups, one by one, scored sync
    p_new, y_new, ev_new = [], [], []
    for r in late:
        for _ in load_records(store, [r]):
            pass
        t = datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) + timedelta(seconds=SIGNUP_WINDOW_S)
        (s,) = scorer.score_accounts(store, [r["id"]], as_of=t)
        p_new.append(s.risk)
        y_new.append(int(truth[r["id"]]["fraud"]))
        ev_new.append(any(x["flagged_accounts"] > 0 for x in s.reasons))
    yn, pn, evn = np.array(y_new), np.array(p_new), np.array(ev_new, dtype=bool)
    out["sign-up AUC (sync)"] = _auc(yn, pn)
    # joiners that share an identifier with labelled fraud vs those joining rings without labels
    for name, sel in (("with evidence", evn), ("no evidence", ~evn)):
        keep = (yn == 0) | sel
        out[f"sign-up AUC, joiners {name}"] = _auc(yn[keep], pn[keep])
        out[f"joiners {name}"] = float(((yn == 1) & sel).sum())
    joiners = yn == 1
    out["sign-up ring members mean risk"] = float(pn[joiners].mean()) if joiners.any() else float("nan")
    out["sign-up legit mean risk"] = float(pn[~joiners].mean()) if (~joiners).any() else float("nan")
    # "now" after the stream: its last sign-up and the last link seen (links arrive after sign-up)
    end_late = max((datetime.fromisoformat(t.replace("Z", "+00:00"))
                    for r in late for t in (r["created_at"], *(x["seen_at"] for x in r["links"]))), default=end)
    # the sweeps before and after ring cleaning share one `as_of` (one second after the stream, when the
    # cleaners sign up), so that ages cannot move a score across a tree threshold: only the added
    # accounts differ (as of end_late, a 1-second age shift dropped one account by 0.0001)
    now = end_late + timedelta(seconds=1)
    after = scorer.score_all(store, as_of=now)
    p1 = np.array([after[a] for a in ids])
    out["existing AUC after sign-ups sweep"] = _auc(y, p1)
    out["existing AUC change"] = out["existing AUC after sign-ups sweep"] - out["existing AUC"]
    # ring cleaning: one late member with an odd creation date (a year before the ring) on each labelled ring,
    # signed up now: its links are first seen after every link in the store (a sign-up cannot backdate
    # them, nor be recorded at the instant of an existing link, which would count as seen together)
    members: dict[str, list[str]] = {}
    for a in stored_label:
        if truth[a]["kind"] == "ring" and truth[a]["group"] in labelled_group:
            members.setdefault(truth[a]["group"], []).append(a)
    links = {r["id"]: list(r["links"]) for r in main if truth[r["id"]]["kind"] == "ring"}
    cleaners = []
    for k, (_g, ms) in enumerate(sorted(members.items())):
        shared: dict[tuple[str, str], int] = {}
        for a in ms:
            for x in links[a]:
                shared[(x["type"], x["id"])] = shared.get((x["type"], x["id"]), 0) + 1
        keys = sorted((c for c in shared.items() if c[1] > 1), key=lambda c: -c[1])[:3]
        if keys:
            cleaners.append(AccountIn(f"zz-clean-{k:05d}", end - timedelta(days=400), {},
                                      tuple(Link(t, i, now) for (t, i), _ in keys)))
    store.upsert_accounts(cleaners)
    cleaned = scorer.score_all(store, as_of=now)
    old = [a for ms in members.values() for a in ms]
    out["ring cleaning: old members' mean risk shift"] = float(np.mean([cleaned[a] - after[a] for a in old]))
    # the bound is per account: no old member falls by more than 0.02; nor should anyone else
    out["ring cleaning: largest drop of an old member"] = max([0.0, *(after[a] - cleaned[a] for a in old)])
    out["ring cleaning: largest drop of any account"] = max([0.0, *(after[a] - cleaned[a] for a in after)])
    store.close()
    return out


def cross_world(train_presets: list[str], eval_presets: list[str], accounts: int, holdout: float,
                train_seed: int, eval_seed: int = 101) -> str:
    """Train on each of `train_presets` (world seed 1), evaluate on a fresh world (`eval_seed`) of every preset."""
    lines = []
    for tp in train_presets:
        with tempfile.TemporaryDirectory(prefix="rf-xworld-") as tmp:
            work = Path(tmp)
            main, _late, _truth, _end = _world(tp, 1, accounts, holdout)
            store = SQLiteStore(work / "train.db")
            store.migrate()
            for _ in load_records(store, main):
                pass
            settings = Settings(data_dir=work)
            t0 = time.perf_counter()
            report = train(store, settings, seed=train_seed, config=CONFIG)
            store.close()
            lines.append(f"trained on {tp} (seed 1, {accounts} accounts, late stream withheld): {report.shipped}, "
                         f"{time.perf_counter() - t0:.0f}s")
            lines.append(report.format_table())
            scorer = Scorer.load(settings)
            for ep in eval_presets:
                t1 = time.perf_counter()
                res = evaluate_world(scorer, ep, eval_seed, accounts, holdout, work)
                lines.append(f"  train {tp} -> eval {ep} (seed {eval_seed}, {accounts} accounts; "
                             f"{time.perf_counter() - t1:.0f}s): " + "; ".join(f"{k} {v:.4f}" for k, v in res.items()))
                print(lines[-1], flush=True)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
