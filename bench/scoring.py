"""Scoring speed: online latency (in-process, embedded SQLite store) and full-graph sweeps.

    .venv/bin/python bench/scoring.py [--sizes 100000,1000000] [--online 1000] [--repeats 3]
    .venv/bin/python bench/scoring.py --store DB --data-dir DIR [--online 300] [--repeats 3] [--batch-repeats 1]

The second form reuses an existing store and trained model (DIR/models) instead of generating.

For each size: generate the default synthetic world, load it into a fresh SQLite store, train
(online figures need a real model; the 1M world reuses the 100k model when there is one),
then
- online: `Scorer.score_accounts(store, [id])` for `--online` random accounts (after 50
  warm-up calls), p50 / p95 / p99 / mean in ms (wall) and mean CPU ms per call, reasons
  included; `--repeats` rounds, medians reported;
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

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

import numpy as np


def _batch_child(db: str, data_dir: str) -> None:
    from ringfence.core.settings import Settings
    from ringfence.gnn.score import Scorer
    from ringfence.graph.sqlite_store import SQLiteStore

    store = SQLiteStore(db)
    scorer = Scorer.load(Settings(data_dir=Path(data_dir)))
    t = time.perf_counter()
    c = time.process_time()
    scores = scorer.score_all(store)
    took = time.perf_counter() - t
    cpu = time.process_time() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    print(json.dumps({"seconds": took, "cpu_seconds": cpu, "peak_rss_mib": rss, "accounts": len(scores),
                      "version": scorer.version}))


def online_latency(store: object, scorer: object, ids: list[str], calls: int, repeats: int) -> str:
    """Median over `repeats` rounds of p50 / p95 / p99 / mean (wall ms) and mean CPU ms per call."""
    rng = np.random.default_rng(0)
    rounds = []
    for _ in range(repeats):
        sample = rng.choice(ids, size=calls + 50, replace=False).tolist()
        lat, cpu = [], []
        for k, a in enumerate(sample):
            t, c = time.perf_counter(), time.process_time()
            scorer.score_accounts(store, [a])  # type: ignore[attr-defined]
            if k >= 50:
                lat.append((time.perf_counter() - t) * 1e3)
                cpu.append((time.process_time() - c) * 1e3)
        arr = np.array(lat)
        rounds.append([*np.percentile(arr, [50, 95, 99]), arr.mean(), float(np.mean(cpu))])
    med = np.median(np.array(rounds), axis=0)
    return (f"online ({scorer.version}, {calls} calls x {repeats} rounds, medians): "  # type: ignore[attr-defined]
            f"p50 {med[0]:.2f} ms, p95 {med[1]:.2f} ms, p99 {med[2]:.2f} ms, mean {med[3]:.2f} ms, "
            f"CPU {med[4]:.2f} ms/call")


def batch_runs(db: Path, work: Path, repeats: int) -> str:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--child", str(db), str(work)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    secs = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    rss = statistics.median(r["peak_rss_mib"] for r in runs)
    return (f"score_all: median {secs:.1f}s wall, {cpu:.1f}s CPU over {repeats} run(s), peak RSS {rss:,.0f} MiB, "
            f"{runs[0]['accounts']:,} accounts ({runs[0]['version']})")


def run(size: int, online: int, repeats: int, models_from: Path | None) -> Path:
    import torch

    from ringfence.core.settings import Settings
    from ringfence.gnn.score import Scorer
    from ringfence.gnn.testing import load_world
    from ringfence.gnn.train import train
    from ringfence.graph.sqlite_store import SQLiteStore

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
        print(f"[{size}] " + online_latency(store, scorer, ids, online, 3), flush=True)
    store.close()
    print(f"[{size}] " + batch_runs(work / "g.db", work, repeats), flush=True)
    return work


def existing(db: Path, data_dir: Path, online: int, repeats: int, batch_repeats: int) -> None:
    import torch

    from ringfence.core.settings import Settings
    from ringfence.gnn.score import Scorer
    from ringfence.graph.sqlite_store import SQLiteStore

    torch.set_num_threads(2)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    store = SQLiteStore(db)
    n = store.count_accounts()
    if online:
        scorer = Scorer.load(Settings(data_dir=data_dir))
        ids = [a.id for chunk in store.stream_accounts() for a in chunk]
        print(f"[{n}] " + online_latency(store, scorer, ids, online, repeats), flush=True)
    store.close()
    if batch_repeats:
        print(f"[{n}] " + batch_runs(db, data_dir, batch_repeats), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _batch_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--online", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", type=Path, default=None, help="existing SQLite store (skip generation)")
    parser.add_argument("--data-dir", type=Path, default=None, help="with --store: directory holding models/")
    parser.add_argument("--batch-repeats", type=int, default=1)
    args = parser.parse_args()
    if args.store is not None:
        existing(args.store, args.data_dir, args.online, args.repeats, args.batch_repeats)
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    trained: Path | None = None
    for size in map(int, args.sizes.split(",")):
        big = size > 200_000
        work = run(size, 0 if big else args.online, 1 if big else args.repeats, trained if big else None)
        if not big:
            trained = work


if __name__ == "__main__":
    main()
