"""Ingest throughput: load 100k and 1M synthetic accounts into each backend, print links/s.

    .venv/bin/python bench/ingest.py [--sizes 100000,1000000] [--backends sqlite,neo4j] [--repeats N]
                                     [--graph-url neo4j://...]

`--graph-url` uses a running Neo4j server (it is emptied first) instead of starting one.
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
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

from ringfence.core.settings import Settings
from ringfence.graph.factory import open_store
from ringfence.graph.loader import account_from_record, load_records, read_jsonl
from ringfence.graph.model import AccountIn
from ringfence.graph.neo4j_queries import identifier_key, prepare_upsert, query
from ringfence.graph.neo4j_store import Neo4jStore, open_driver, upsert_parameters
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


FLOOR_DIR = Path(__file__).resolve().parent / "cypher"


def _accounts(path: Path) -> list[AccountIn]:
    with path.open() as fh:
        return [account_from_record(r) for r in read_jsonl(fh)]


def run_floor(path: Path, size: int, url: str, batch: int) -> float:
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
    started = time.perf_counter()
    with driver.session(database=store.config.database) as session:
        for new, sent in work:
            session.execute_write(lambda tx, n=new, s=sent: (tx.run(idents_q, identifiers=n).consume(),
                                                              tx.run(accounts_q, rows=s).consume()))
    took = time.perf_counter() - started
    driver.close()
    assert store.count_accounts() == size
    store.close()
    return took


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
                             ("upsert_accounts", {"rows": sent, "requested_at": None})):
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,neo4j")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default: 3, 1 above 200k)")
    parser.add_argument("--graph-url", default=None, help="a running Neo4j server for the neo4j backend")
    parser.add_argument("--no-store-only", action="store_true", help="skip the store-upserts-only figure")
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
            line = (f"{backend:7s} accounts={size:>9,} links={links:>10,} | ringfence load: median {took:6.1f}s "
                    f"{links / took:>9,.0f} links/s")
            if not args.no_store_only:
                upsert = statistics.median(run_store_only(path, size, url, args.batch) for _ in range(repeats))
                line += f" | store upserts only: median {upsert:6.1f}s {links / upsert:>9,.0f} links/s"
            if backend == "neo4j":
                floor = statistics.median(run_floor(path, size, url, args.batch) for _ in range(repeats))
                line += (f" | floor (UNWIND CREATE): median {floor:6.1f}s {links / floor:>9,.0f} links/s"
                         f" | load / floor {floor / took:.2f}x")
            print(f"{line} (runs={repeats}, load average {os.getloadavg()[0]:.1f})", flush=True)
            if backend == "neo4j":
                profile_upsert(path, url, args.batch)
    if neo4j is not None:
        neo4j.stop()


if __name__ == "__main__":
    main()
