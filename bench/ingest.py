"""Ingest throughput: load 100k and 1M synthetic accounts into each backend, print links/s.

    .venv/bin/python bench/ingest.py [--sizes 100000,1000000] [--backends sqlite,neo4j] [--repeats N]
                                     [--graph-url neo4j://...]

`--graph-url` uses a running Neo4j server (it is emptied first) instead of starting one.

The world is written to a JSON-lines file first, then streamed from it as `ringfence load`
does (parsing and validation included, generation not). Each run starts from an empty store.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from ringfence.core.settings import Settings
from ringfence.graph.factory import open_store
from ringfence.graph.loader import account_from_record, load_records, read_jsonl
from ringfence.graph.synthetic import WorldParams, write_jsonl


def run(path: Path, size: int, url: str, batch: int) -> tuple[float, int]:
    store = open_store(Settings(graph_url=url))
    store.reset()
    started = time.perf_counter()
    stats = None
    with path.open() as fh:
        for stats in load_records(store, read_jsonl(fh), batch_size=batch):  # noqa: B007 - last totals
            pass
    took = time.perf_counter() - started
    assert stats is not None and store.count_accounts() == size
    store.close()
    return took, stats.links


def run_store_only(path: Path, size: int, url: str, batch: int) -> float:
    """The store's own share: records parsed and validated up front, then only upserts timed."""
    with path.open() as fh:
        accounts = [account_from_record(r) for r in read_jsonl(fh)]
    store = open_store(Settings(graph_url=url))
    store.reset()
    started = time.perf_counter()
    for i in range(0, len(accounts), batch):
        store.upsert_accounts(accounts[i : i + batch])
    took = time.perf_counter() - started
    assert store.count_accounts() == size
    store.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,neo4j")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default: 3, 1 above 200k)")
    parser.add_argument("--graph-url", default=None, help="a running Neo4j server for the neo4j backend")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    neo4j = None
    for size in map(int, args.sizes.split(",")):
        path = Path(tempfile.mkdtemp()) / f"world-{size}.jsonl"
        with path.open("w") as fh:
            write_jsonl(WorldParams(accounts=size, seed=1), fh)
        for backend in args.backends.split(","):
            if backend == "neo4j" and args.graph_url:
                url = args.graph_url
            elif backend == "neo4j":
                if neo4j is None:
                    from devservices.services import Neo4jServer

                    neo4j = Neo4jServer()
                    neo4j.start()
                url = neo4j.graph_url
            else:
                url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'ingest.db'}"
            repeats = args.repeats or (1 if size > 200_000 else 3)
            runs = [run(path, size, url, args.batch) for _ in range(repeats)]
            took = statistics.median(t for t, _ in runs)
            links = runs[0][1]
            upsert = statistics.median(run_store_only(path, size, url, args.batch) for _ in range(repeats))
            print(
                f"{backend:7s} accounts={size:>9,} links={links:>10,} | ringfence load: median {took:6.1f}s "
                f"{links / took:>9,.0f} links/s | store upserts only: median {upsert:6.1f}s "
                f"{links / upsert:>9,.0f} links/s (runs={repeats}, load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    if neo4j is not None:
        neo4j.stop()


if __name__ == "__main__":
    main()
