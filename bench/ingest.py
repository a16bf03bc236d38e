"""Ingest throughput: load 100k and 1M synthetic accounts into each backend, print links/s.

    .venv/bin/python bench/ingest.py [--sizes 100000,1000000] [--backends sqlite,neo4j] [--repeats N]
                                     [--graph-url neo4j://... [--graph-pid PID]]

`--graph-url` uses a running Neo4j server (it is emptied first) instead of starting one.
Each figure also gives the CPU per link on each side of the Bolt connection, from the same run:
this process's (parse, validation, parameters, driver) and the server's (its JVM's, when the bench
started it or `--graph-pid` names it).
On Neo4j, two more figures in the same run: the floor (the same rows, prepared up front, sent as
a plain `UNWIND ... CREATE` into an empty database: bench/cypher/floor_*.cypher), which
`ringfence load` is reported against as a ratio, and `PROFILE` of the upsert (db hits per link,
for a batch of new accounts and for the same batch again).

The world is written to a JSON-lines file first, then streamed from it as `ringfence load`
does (parsing and validation included, generation not). Each run starts from an empty store.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

import psutil

from ringfence.core.settings import Settings
from ringfence.graph.factory import open_store
from ringfence.graph.loader import account_from_record, load_records, read_jsonl
from ringfence.graph.model import AccountIn
from ringfence.graph.neo4j_queries import identifier_key, prepare_upsert, query
from ringfence.graph.neo4j_store import Neo4jStore, open_driver, upsert_parameters
from ringfence.graph.synthetic import WorldParams, write_jsonl


@dataclass
class Timed:
    seconds: float
    client_cpu: float  # this process (parse, validation, parameters, the driver)
    server_cpu: float | None  # the Neo4j JVM, when its pid is known


class Stopwatch:
    """Wall time, this process's CPU and the Neo4j server's CPU over a block: which side of the
    Bolt connection a phase's time is spent on, in the same run."""

    def __init__(self, server: psutil.Process | None) -> None:
        self.server = server

    def _server_cpu(self) -> float | None:
        if self.server is None:
            return None
        t = self.server.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> Stopwatch:
        self._start = (time.perf_counter(), time.process_time(), self._server_cpu())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu, server = self._start
        end = self._server_cpu()
        self.timed = Timed(time.perf_counter() - wall, time.process_time() - cpu,
                           None if server is None or end is None else end - server)


def run(path: Path, size: int, url: str, batch: int, server: psutil.Process | None) -> tuple[Timed, int]:
    store = open_store(Settings(graph_url=url))
    store.reset()
    stats = None
    with Stopwatch(server) as clock, path.open() as fh:
        for stats in load_records(store, read_jsonl(fh), batch_size=batch):  # noqa: B007 - last totals
            pass
    assert stats is not None and store.count_accounts() == size
    store.close()
    return clock.timed, stats.links


def run_store_only(path: Path, size: int, url: str, batch: int, server: psutil.Process | None) -> Timed:
    """The store's own share: records parsed and validated up front, then only upserts timed."""
    with path.open() as fh:
        accounts = [account_from_record(r) for r in read_jsonl(fh)]
    store = open_store(Settings(graph_url=url))
    store.reset()
    with Stopwatch(server) as clock:
        for i in range(0, len(accounts), batch):
            store.upsert_accounts(accounts[i : i + batch])
    assert store.count_accounts() == size
    store.close()
    return clock.timed


FLOOR_DIR = Path(__file__).resolve().parent / "cypher"


def _accounts(path: Path) -> list[AccountIn]:
    with path.open() as fh:
        return [account_from_record(r) for r in read_jsonl(fh)]


def run_floor(path: Path, size: int, url: str, batch: int, server: psutil.Process | None) -> Timed:
    """Seconds to CREATE the same accounts, identifiers and links with no checks (see module doc)."""
    accounts = _accounts(path)
    store = open_store(Settings(graph_url=url))
    store.reset()
    assert isinstance(store, Neo4jStore)
    idents_q, accounts_q = ((FLOOR_DIR / f"floor_{n}.cypher").read_text() for n in ("identifiers", "accounts"))
    seen: set[str] = set()
    work = []
    for i in range(0, len(accounts), batch):
        rows, _ = prepare_upsert(accounts[i : i + batch])
        new = sorted({(identifier_key(t, x), t, x) for r in rows for t, x, _, _ in r["links"]})
        new = [list(n) for n in new if n[0] not in seen]
        seen.update(n[0] for n in new)
        sent = [{"id": r["id"], "created_at": r["created_at"], "attributes": json.dumps(r["new_attributes"]),
                 "links": [[identifier_key(t, x), f, la] for t, x, f, la in r["links"]]} for r in rows]
        work.append((new, sent))
    driver = open_driver(store.config)
    with Stopwatch(server) as clock, driver.session(database=store.config.database) as session:
        for new, sent in work:
            session.execute_write(lambda tx, n=new, s=sent: (tx.run(idents_q, identifiers=n).consume(),
                                                              tx.run(accounts_q, rows=s).consume()))
    driver.close()
    assert store.count_accounts() == size
    store.close()
    return clock.timed


def _db_hits(plan: dict[str, Any]) -> int:
    return int(plan.get("dbHits", 0)) + sum(_db_hits(c) for c in plan.get("children", []))


def profile_upsert(path: Path, url: str, batch: int) -> None:
    """PROFILE of the upsert's statements for the first batch, new and then again (existing)."""
    accounts = _accounts(path)[:batch]
    store = open_store(Settings(graph_url=url))
    store.reset()
    assert isinstance(store, Neo4jStore)
    rows, sent, identifiers, links = upsert_parameters(accounts)
    driver = open_driver(store.config)

    def profiled(tx: Any) -> list[tuple[str, int]]:
        out = []
        for name, params in (("upsert_batch", {"rows": sent, "requested_at": None, **identifiers}),
                             ("upsert_accounts", {"rows": sent, "requested_at": None, **identifiers})):
            result = tx.run("PROFILE " + query(name), params)
            list(result)
            out.append((name, _db_hits(result.consume().profile or {})))
        return out

    with driver.session(database=store.config.database) as session:
        first = session.execute_write(profiled)
        again = session.execute_write(profiled)
    driver.close()
    store.close()
    print(f"PROFILE, {len(rows):,} accounts, {links:,} links: new accounts: upsert_batch {first[0][1] / links:.1f} "
          f"db hits/link; the same batch again: upsert_batch {again[0][1] / links:.1f} + upsert_accounts "
          f"{again[1][1] / links:.1f} db hits/link", flush=True)


def _median(runs: list[Timed]) -> Timed:
    """The run of median wall time (its CPU figures with it: one run's, not medians mixed)."""
    return sorted(runs, key=lambda t: t.seconds)[len(runs) // 2]


def _shown(t: Timed, links: int) -> str:
    server = f", server {t.server_cpu * 1e6 / links:.0f}" if t.server_cpu is not None else ""
    return (f"median {t.seconds:6.1f}s {links / t.seconds:>9,.0f} links/s "
            f"(CPU per link: client {t.client_cpu * 1e6 / links:.0f} µs{server} µs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,neo4j")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default: 3, 1 above 200k)")
    parser.add_argument("--graph-url", default=None, help="a running Neo4j server for the neo4j backend")
    parser.add_argument("--no-store-only", action="store_true", help="skip the store-upserts-only figure")
    parser.add_argument("--graph-pid", type=int, default=None,
                        help="with --graph-url: the server's process, for its CPU per link")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    neo4j = None
    for size in map(int, args.sizes.split(",")):
        path = Path(tempfile.mkdtemp()) / f"world-{size}.jsonl"
        with path.open("w") as fh:
            write_jsonl(WorldParams(accounts=size, seed=1), fh)
        for backend in args.backends.split(","):
            server = None
            if backend == "neo4j" and args.graph_url:
                url = args.graph_url
                server = psutil.Process(args.graph_pid) if args.graph_pid else None
            elif backend == "neo4j":
                if neo4j is None:
                    from devservices.services import Neo4jServer

                    neo4j = Neo4jServer()
                    neo4j.start()
                url = neo4j.graph_url
                server = psutil.Process(neo4j.pid) if neo4j.pid else None
            else:
                url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'ingest.db'}"
            repeats = args.repeats or (1 if size > 200_000 else 3)
            runs = [run(path, size, url, args.batch, server) for _ in range(repeats)]
            links = runs[0][1]
            load = _median([t for t, _ in runs])
            line = f"{backend:7s} accounts={size:>9,} links={links:>10,} | ringfence load: {_shown(load, links)}"
            if not args.no_store_only:
                upsert = _median([run_store_only(path, size, url, args.batch, server) for _ in range(repeats)])
                line += f" | store upserts only: {_shown(upsert, links)}"
            if backend == "neo4j":
                floor = _median([run_floor(path, size, url, args.batch, server) for _ in range(repeats)])
                line += (f" | floor (UNWIND CREATE): {_shown(floor, links)}"
                         f" | load / floor {floor.seconds / load.seconds:.2f}x")
            print(f"{line} (runs={repeats}, load average {os.getloadavg()[0]:.1f})", flush=True)
            if backend == "neo4j":
                profile_upsert(path, url, args.batch)
    if neo4j is not None:
        neo4j.stop()


if __name__ == "__main__":
    main()
