"""What an investigator's questions cost: paths to fraud, ring exports and identifier pages.

    .venv/bin/python bench/investigation.py [--accounts 100000] [--calls 300] [--repeats 3] [--lists-only]

Generates (or reuses, under /tmp/ringfence-bench) the default synthetic world, loads it into an
embedded SQLite store and publishes one sweep with the heuristic scorer (paths to flagged rings
need rings; no model is trained: these calls read the graph, not the GNN). Then, in process,
through the same service functions the API routes call:
- `paths`: `services.investigation.paths(to=fraud)` at 2 hops (the API's default) and 3, and
  `(to=ring)` at 2, from random ring members (the accounts investigators ask about);
- `ring graphml`: `ring_file(..., "graphml")` for random current rings;
- `identifier page`: `identifier_view` (100 accounts) for random identifiers of those rings.
Per call wall ms: p50 / p99 / mean, medians over `--repeats` rounds.
- lists walked to their end, as the queue's "load more" and `publish`/`staged_lineage` walk them:
  the rings riskiest first, the accounts riskiest first, and (the in-process baseline, a
  primary-key walk) the accounts by id; per page ms over the first and the last 10 pages, and
  the whole walk. A page should cost the same wherever it starts.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

from ringfence.core.settings import Settings  # noqa: E402
from ringfence.graph.loader import load_records  # noqa: E402
from ringfence.graph.model import IdentifierKey  # noqa: E402
from ringfence.graph.sqlite_store import SQLiteStore  # noqa: E402
from ringfence.graph.synthetic import generate, params_for  # noqa: E402
from ringfence.services import investigation  # noqa: E402
from ringfence.services.sweeps import run_sweep  # noqa: E402

CACHE = Path("/tmp/ringfence-bench")


def _world(accounts: int) -> tuple[SQLiteStore, Settings]:
    path = CACHE / f"investigation-default-{accounts}-1.db"
    settings = Settings(data_dir=CACHE / "investigation-data", graph_url=f"sqlite:///{path}")
    fresh = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(path)
    store.migrate()
    if fresh:
        started = time.perf_counter()
        for _ in load_records(store, generate(params_for("default", accounts=accounts, seed=1))):
            pass
        result = run_sweep(store, settings)
        print(f"world: {accounts} accounts loaded and swept ({len(result.rings)} rings) in "
              f"{time.perf_counter() - started:.0f}s", flush=True)
    return store, settings


def _time(call: Callable[[], object], n: int, repeats: int) -> str:
    rounds = []
    for _ in range(repeats):
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            call()
            lat.append((time.perf_counter() - t) * 1000)
        rounds.append((float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), statistics.fmean(lat)))
    p50, p99, mean = (statistics.median(x) for x in zip(*rounds, strict=True))
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  mean {mean:7.2f} ms"


def _walk(read: Callable[[str | None], object]) -> tuple[list[float], int]:
    """Per page ms of one walk to the end, and the items seen."""
    lat, cursor, items = [], None, 0
    while True:
        t = time.perf_counter()
        page = read(cursor)
        lat.append((time.perf_counter() - t) * 1000)
        items += len(page.data)  # type: ignore[attr-defined]
        cursor = page.next_cursor  # type: ignore[attr-defined]
        if cursor is None:
            return lat, items


def _lists(store: SQLiteStore, repeats: int) -> None:
    for name, size, read in (
        ("rings, riskiest first", 50, lambda c, n: store.list_rings(None, c, n)),
        ("accounts, riskiest first", 100, lambda c, n: store.list_accounts("risk_desc", None, None, c, n)),
        ("accounts by id (baseline)", 100, lambda c, n: store.list_accounts("id", None, None, c, n)),
    ):
        rounds = [_walk(lambda c, read=read, size=size: read(c, size)) for _ in range(repeats)]  # type: ignore[misc]
        first, last, total = (statistics.median(f(lat) for lat, _ in rounds) for f in (
            lambda lat: statistics.median(lat[:10]), lambda lat: statistics.median(lat[-10:]), sum))
        print(f"{name:<26} {rounds[0][1]:>9,} items, {len(rounds[0][0]):>6,} pages of {size}: first pages "
              f"{first:7.2f} ms, last pages {last:7.2f} ms (x{last / first:.2f}), walk {total / 1000:7.1f} s",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lists-only", action="store_true", help="only the lists walked to their end")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    store, settings = _world(args.accounts)
    if args.lists_only:
        _lists(store, args.repeats)
        store.close()
        return
    rng = np.random.default_rng(0)
    rings = list(store.current_rings())
    idents = [IdentifierKey(i.type, i.id) for r in rings[:200] if (g := store.get_ring(r)) for i in g.identifiers]
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    print(f"{args.accounts} accounts, {len(rings)} current rings, {args.calls} calls x {args.repeats} rounds")
    members = sorted({m for ms in store.current_rings().values() for m in ms})
    for name, call in (
        ("paths to fraud (2 hops)", lambda: investigation.paths(store, settings, pick(members), "fraud", 2, 100)),
        ("paths to fraud (3 hops)", lambda: investigation.paths(store, settings, pick(members), "fraud", 3, 100)),
        ("paths to rings (2 hops)", lambda: investigation.paths(store, settings, pick(members), "ring", 2, 100)),
        ("ring as GraphML", lambda: investigation.ring_file(store, settings, pick(rings), "graphml")),
        ("identifier page (100)", lambda: investigation.identifier_view(store, pick(idents), None, 100)),
    ):
        print(f"{name:<26} {_time(call, args.calls, args.repeats)}", flush=True)
    _lists(store, args.repeats)
    store.close()


if __name__ == "__main__":
    main()
