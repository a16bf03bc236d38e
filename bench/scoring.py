"""Scoring speed: online latency (in-process, embedded SQLite store) and full-graph sweeps.

    .venv/bin/python bench/scoring.py [--sizes 100000,1000000] [--online 1000] [--repeats 3]

For each size: generate the default synthetic world, load it into a fresh SQLite store, train
(online figures need a real model; the 1M world reuses the 100k model when there is one),
then
- online: `Scorer.score_accounts(store, [id])` for `--online` random accounts (after 50
  warm-up calls), p50 / p99 / mean in ms, reasons included;
- batch: `Scorer.score_all(store)` `--repeats` times in a fresh process each (median wall time,
  peak RSS of that process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _batch_child(db: str, data_dir: str) -> None:
    from gnn.score import Scorer
    from graph.sqlite_store import SQLiteStore
    from ringfence.settings import Settings

    store = SQLiteStore(db)
    scorer = Scorer.load(Settings(data_dir=Path(data_dir)))
    t = time.perf_counter()
    scores = scorer.score_all(store)
    took = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    print(json.dumps({"seconds": took, "peak_rss_mib": rss, "accounts": len(scores), "version": scorer.version}))


def run(size: int, online: int, repeats: int, models_from: Path | None) -> Path:
    import torch

    from gnn.score import Scorer
    from gnn.testing import load_world
    from gnn.train import train
    from graph.sqlite_store import SQLiteStore
    from ringfence.settings import Settings

    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix=f"rf-scoring-{size}-"))
    store = SQLiteStore(work / "g.db")
    store.migrate()
    t = time.perf_counter()
    records = load_world(store, size, seed=1)
    ids = [r["id"] for r in records]
    del records
    print(f"[{size}] loaded in {time.perf_counter() - t:.1f}s", flush=True)
    settings = Settings(data_dir=work)
    if models_from is not None:
        os.symlink(models_from / "models", work / "models")
    else:
        report = train(store, settings, seed=settings.seed)
        print(f"[{size}] trained {report.version} ({report.shipped}) in {report.seconds:.1f}s", flush=True)
    scorer = Scorer.load(settings)
    if online:
        rng = np.random.default_rng(0)
        sample = rng.choice(ids, size=online + 50, replace=False).tolist()
        lat = []
        for k, a in enumerate(sample):
            t = time.perf_counter()
            scorer.score_accounts(store, [a])
            if k >= 50:
                lat.append((time.perf_counter() - t) * 1e3)
        arr = np.array(lat)
        print(f"[{size}] online ({scorer.version}, {len(arr)} calls): p50 {np.percentile(arr, 50):.2f} ms, "
              f"p99 {np.percentile(arr, 99):.2f} ms, mean {arr.mean():.2f} ms", flush=True)
    store.close()
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--child", str(work / "g.db"), str(work)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    secs = statistics.median(r["seconds"] for r in runs)
    rss = statistics.median(r["peak_rss_mib"] for r in runs)
    print(f"[{size}] score_all: median {secs:.1f}s over {repeats} run(s), peak RSS {rss:,.0f} MiB, "
          f"{runs[0]['accounts']:,} accounts", flush=True)
    return work


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _batch_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--online", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    trained: Path | None = None
    for size in map(int, args.sizes.split(",")):
        big = size > 200_000
        work = run(size, 0 if big else args.online, 1 if big else args.repeats, trained if big else None)
        if not big:
            trained = work


if __name__ == "__main__":
    main()
