"""Bulk first load: `ringfence load --bulk` end to end on a synthetic world, in links/s.

    .venv/bin/python bench/bulk.py [--accounts 1000000] [--heap 1g] [--keep-home DIR]

Writes the world (seed 1) to JSON lines, then times the three steps of graph/neo4j_bulk.py on a
fresh Neo4j home: the import files (parsing and validating every record as `ringfence load`
does), `neo4j-admin database import full` (Community jars, database stopped), and the finish
(constraints and indexes) with the database started. Server start-up is reported apart.
Prints figures (with the peak RSS of the import files' step: the world is written by a child
process); asserts only that every account arrived. `--keep-home DIR` keeps the loaded
Neo4j home for other benchmarks (`python -m devservices neo4j --home DIR`, then e.g.
`bench/sweep.py --backend neo4j`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

from devservices.services import LAUNCHER_DIR, Neo4jServer, free_port, run_neo4j_admin  # noqa: E402
from ringfence.core.settings import Settings  # noqa: E402
from ringfence.graph.factory import neo4j_config  # noqa: E402
from ringfence.graph.neo4j_bulk import finish_import, import_arguments, write_import_files  # noqa: E402
from ringfence.graph.neo4j_store import Neo4jStore  # noqa: E402
from ringfence.graph.synthetic import WorldParams, write_jsonl  # noqa: E402


def _write_world(accounts: int, path: Path) -> None:
    with path.open("w") as fh:
        write_jsonl(WorldParams(accounts=accounts, seed=1), fh)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--keep-home", type=Path, help="move the loaded Neo4j home here (must not exist)")
    args = parser.parse_args()
    if args.keep_home and args.keep_home.exists():
        parser.error(f"{args.keep_home} exists")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="ringfence-bulk-"))
    source = work / "world.jsonl"
    # written by a child process, so that this process's peak RSS is the import files' alone
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        pool.submit(_write_world, args.accounts, source).result()
    home = work / "home"
    shutil.copytree(LAUNCHER_DIR / "target" / "home-template", home, ignore=shutil.ignore_patterns(".complete"))
    try:
        t0 = time.perf_counter()
        with source.open("rb") as fh:
            plan = write_import_files(fh, work / "import")
        t1 = time.perf_counter()
        files_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        run_neo4j_admin(home, import_arguments(plan), heap=args.heap)
        t2 = time.perf_counter()
        server = Neo4jServer(free_port(), home, page_cache="1g", heap=args.heap)
        server.start()
        t3 = time.perf_counter()
        try:
            store = Neo4jStore(neo4j_config(Settings(graph_url=server.graph_url)))
            finish_import(store, plan)
            t4 = time.perf_counter()
            assert store.count_accounts() == plan.accounts
            store.close()
        finally:
            server.stop()
        files, tool, finish = t1 - t0, t2 - t1, t4 - t3
        total = files + tool + finish
        print(f"accounts={plan.accounts:,} identifiers={plan.identifiers:,} links={plan.links:,} labels="
              f"{plan.labels:,} | import files {files:.1f}s | neo4j-admin import {tool:.1f}s | finish "
              f"{finish:.1f}s | total {total:.1f}s = {plan.links / total:,.0f} links/s (server start {t3 - t2:.1f}s"
              f" not counted; load average {os.getloadavg()[0]:.1f}) | import files peak RSS {files_peak:.2f} GB",
              flush=True)
        if args.keep_home:
            shutil.move(home, args.keep_home)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
