"""Ring-detection quality on synthetic worlds with known truth; prints figures.

    .venv/bin/python bench/rings.py [--size 100000] [--presets default,second]

For each preset (seed 1) the world is generated and loaded once (cached under
/tmp/ringfence-bench by bench/sweep.py), then two real sweeps run on a scratch copy (the
second is the steady state: the heuristic scorer uses the first sweep's rings). Printed:

- recall: planted rings (truth.kind == "ring", grouped by truth.group) matched by a reported
  ring with Jaccard ≥ 0.5 (target ≥ 95%), and matched by a ring with risk ≥ 0.5;
- precision: of the rings reported with risk ≥ 0.5, the share mostly fraud (target ≥ 90%),
  and how many are mostly households / agencies / ordinary legit accounts;
- the largest reported ring against the largest planted one (target ≤ 2x);
- the same figures for plain connected components of the account–identifier graph (no hub
  cap, no weights, no benign list, no splitting).
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings
from collections import Counter

import numpy as np

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

from bench.sweep import CACHE, KIND_CODES, working_copy, world_db  # noqa: E402
from ringfence.core.settings import Settings  # noqa: E402
from ringfence.graph.detection import DetectionParams, detect, load_graph  # noqa: E402
from ringfence.graph.sqlite_store import SQLiteStore  # noqa: E402
from ringfence.services.sweeps import run_sweep  # noqa: E402

KIND_NAMES = {v: k for k, v in KIND_CODES.items()}


def evaluate(rings: list[tuple[list[str], float]], truth: dict[str, np.ndarray]) -> dict[str, float]:
    index = {a: k for k, a in enumerate(truth["id"].tolist())}
    kind, group = truth["kind"], truth["group"]
    fraud = (kind == KIND_CODES["ring"]) | (kind == KIND_CODES["lone"])
    planted: dict[str, set[int]] = {}
    for k in np.flatnonzero(kind == KIND_CODES["ring"]).tolist():
        planted.setdefault(str(group[k]), set()).add(k)
    ring_of: dict[int, int] = {}
    members = []
    for r, (ids, _) in enumerate(rings):
        ms = {index[a] for a in ids}
        members.append(ms)
        for m in ms:
            ring_of[m] = r
    hit = hit_risky = 0
    for p in planted.values():
        best = [r for r, o in Counter(ring_of[m] for m in p if m in ring_of).items()
                if o / len(p | members[r]) >= 0.5]
        hit += bool(best)
        hit_risky += any(rings[r][1] >= 0.5 for r in best)
    risky = [r for r, (_, risk) in enumerate(rings) if risk >= 0.5]
    mostly_fraud = sum(fraud[list(members[r])].mean() > 0.5 for r in risky)
    majority = Counter(KIND_NAMES[int(np.bincount(kind[list(members[r])], minlength=5).argmax())] for r in risky)
    return {
        "planted": len(planted),
        "largest_planted": max(map(len, planted.values())),
        "reported": len(rings),
        "largest_reported": max((len(m) for m in members), default=0),
        "recall": hit / len(planted),
        "recall_risky": hit_risky / len(planted),
        "risky": len(risky),
        "precision": mostly_fraud / max(len(risky), 1),
        "risky_households": majority.get("household", 0),
        "risky_agencies": majority.get("agency", 0),
        "risky_legit": majority.get("legit", 0),
    }


def show(name: str, m: dict[str, float]) -> None:
    print(f"  {name:28s} recall {m['recall']:6.1%} (risk>=0.5: {m['recall_risky']:6.1%})  "
          f"reported {m['reported']:>6,}  largest {m['largest_reported']:>6,} "
          f"(planted {m['largest_planted']}, x{m['largest_reported'] / m['largest_planted']:.1f})")
    if m["risky"]:
        print(f"  {'':28s} risk>=0.5: {m['risky']:,} rings, {m['precision']:.1%} mostly fraud; "
              f"households {m['risky_households']}, agencies {m['risky_agencies']}, legit {m['risky_legit']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--presets", default="default,second")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Sparse", category=UserWarning)  # torch, in gnn.graphdata
    for preset in args.presets.split(","):
        db, truth = world_db(args.size, preset, args.seed)
        work = working_copy(db)
        store = SQLiteStore(work)
        settings = Settings(data_dir=CACHE / "data", graph_url=f"sqlite:///{work}")
        try:
            print(f"{preset} preset, {args.size:,} accounts, seed {args.seed}, hub_cap {settings.hub_cap}, "
                  f"min_ring_size {settings.min_ring_size}")
            t = time.perf_counter()
            first = run_sweep(store, settings)
            second = run_sweep(store, settings)
            took = time.perf_counter() - t
            print(f"  (two sweeps in {took:.0f}s, model {second.model_version}, params {second.stats['params']})")
            show("sweep 1 (cold start)", evaluate([(r.members, r.risk) for r in first.rings], truth))
            show("sweep 2 (steady state)", evaluate([(r.members, r.risk) for r in second.rings], truth))
            g = load_graph(store)
            plain = detect(g, DetectionParams(hub_handling=False, min_ring_size=settings.min_ring_size))
            show("plain connected components", evaluate([(x.member_ids, 0.0) for x in plain.groups], truth))
        finally:
            store.close()
            shutil.rmtree(work.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
