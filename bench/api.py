"""HTTP API latency and throughput over loopback, against uvicorn on the embedded store.

    .venv/bin/python bench/api.py [--accounts 100000] [--duration 20] [--data-dir DIR]

Builds (or reuses) a synthetic world of `--accounts` accounts in SQLite, trains a model and
runs a sweep, then serves `api.app:create_app` with uvicorn in a subprocess and measures

1. `POST /v1/accounts?score=sync` offered open-loop at a steady 100 req/s: requests leave on a
   clock, not when the previous one returns, and latency counts from the scheduled send time
   (so a stalled server shows up as latency, not as a lower offered rate);
2. the highest steady rate whose p99 stays at or under 100 ms (rates stepped up until it fails);
3. `POST /v1/accounts/batch` ingest in links/s (5,000-account batches);
4. the same sync-score route written as `async def` + one `run_in_threadpool` call, against the
   plain `def` handler the API uses, at the same offered rate.

The posted accounts are the world's late stream (new accounts, some joining existing rings),
re-posted under fresh ids when the stream runs out. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Literal

if __name__ == "__main__":
    # Run as `python bench/api.py`, this directory comes first on sys.path and this file would
    # shadow the `api` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
from fastapi import Query  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from api.app import create_app  # noqa: E402
from api.deps import DispatcherDep, RequireScore, SettingsDep, StoreDep, WriteGateDep  # noqa: E402
from api.routes.accounts import upsert_account  # noqa: E402
from api.schemas import AccountCreated, AccountIn  # noqa: E402

KEY = "bench_admin_key"
ROOT = Path(__file__).resolve().parents[1]


def build(data_dir: Path, accounts: int) -> list[dict[str, Any]]:
    """Load the main world, train, sweep; return the late stream (not loaded) as API bodies."""
    from graph.factory import open_store
    from graph.loader import load_records
    from graph.synthetic import generate, params_for
    from ringfence.settings import Settings

    records = list(generate(params_for("default", accounts=accounts, seed=1)))
    main = [r for r in records if not r["truth"]["late"]]
    late = [{k: r[k] for k in ("id", "created_at", "attributes", "links")} for r in records if r["truth"]["late"]]
    settings = Settings(data_dir=data_dir, graph_url="", broker_url=None)
    store = open_store(settings)
    try:
        if store.count_accounts() == 0:
            started = time.perf_counter()
            for _ in load_records(store, main):
                pass
            print(f"loaded {len(main):,} accounts in {time.perf_counter() - started:.1f}s")
        from gnn.registry import Registry

        if Registry(settings.models_dir).active_version() is None:
            from gnn.train import train

            started = time.perf_counter()
            report = train(store, settings, seed=7)
            print(f"trained {report.version} ({report.shipped}) in {time.perf_counter() - started:.1f}s")
        if store.current_sweep() is None:
            from workers.sweep import run_sweep

            started = time.perf_counter()
            result = run_sweep(store, settings)
            print(f"sweep {result.sweep_id} in {time.perf_counter() - started:.1f}s")
    finally:
        store.close()
    return late


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "RINGFENCE_DATA_DIR": str(data_dir), "RINGFENCE_API_KEYS": f"{KEY}:admin",
        "RINGFENCE_RATE_LIMIT_PER_S": "1000000", "RINGFENCE_RATE_LIMIT_BURST": "1000000",
        "RINGFENCE_GRAPH_URL": "",
    }
    env.pop("RINGFENCE_BROKER_URL", None)
    cmd = [sys.executable, "-m", "uvicorn", "bench.api:bench_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"uvicorn did not start; see {log}")
        time.sleep(0.2)


def bench_app() -> Any:
    """The API plus one route for the def-vs-async comparison (bench only)."""
    app = create_app()

    @app.post("/bench/accounts-async", status_code=201, dependencies=[RequireScore], include_in_schema=False)
    async def upsert_account_async(
        body: AccountIn, store: StoreDep, settings: SettingsDep, dispatcher: DispatcherDep, gate: WriteGateDep,
        score: Annotated[Literal["sync", "async", "none"], Query()] = "async",
    ) -> AccountCreated:
        return await run_in_threadpool(upsert_account, body, store, settings, dispatcher, gate, score)

    return app


class Bodies:
    def __init__(self, late: list[dict[str, Any]]) -> None:
        self.late = late
        self.n = 0

    def next(self) -> dict[str, Any]:
        base = self.late[self.n % len(self.late)]
        rnd = self.n // len(self.late)
        self.n += 1
        return base if rnd == 0 else {**base, "id": f"{base['id']}-r{rnd}"}


async def open_loop(base: str, path: str, bodies: Bodies, rate: float, duration: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    headers = {"Authorization": f"Bearer {KEY}"}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=headers) as client:
        total = int(rate * duration)
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                response = await client.post(path, json=bodies.next())
                ok = response.status_code == 201
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                ok, key = False, type(exc).__name__
            latencies.append(time.perf_counter() - scheduled)
            if not ok:
                errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"offered": rate, "achieved": len(latencies) / elapsed, "p50": q[49] * 1000, "p95": q[94] * 1000,
            "p99": q[98] * 1000, "errors": errors, "n": len(latencies)}


def show(label: str, r: dict[str, Any]) -> None:
    print(f"{label:<34} offered {r['offered']:6.0f}/s  achieved {r['achieved']:6.1f}/s  "
          f"p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
          f"errors {sum(r['errors'].values())} {r['errors'] or ''} (n={r['n']})")


def batch_ingest(base: str, accounts: int, batch: int = 5000) -> None:
    from graph.synthetic import generate, params_for

    records = [{"id": f"b{r['id']}", "created_at": r["created_at"], "attributes": r["attributes"], "links": r["links"]}
               for r in generate(params_for("default", accounts=accounts, seed=2))]
    batches = [records[i:i + batch] for i in range(0, len(records), batch)]
    bodies = [json.dumps({"accounts": b}).encode() for b in batches]
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    links = 0
    with httpx.Client(base_url=base, timeout=300, headers=headers) as client:
        started = time.perf_counter()
        for body in bodies:
            response = client.post("/v1/accounts/batch", content=body)
            response.raise_for_status()
            links += response.json()["links"]
        took = time.perf_counter() - started
    print(f"batch ingest: {len(records):,} accounts / {links:,} links in {len(batches)} batches of {batch:,}: "
          f"{links / took:,.0f} links/s, {len(records) / took:,.0f} accounts/s "
          f"({took / len(batches) * 1000:.0f} ms/batch)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rates", default="100,150,200,250,300,400,500")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--ingest-accounts", type=int, default=50_000)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ringfence-bench-api-"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; data in {data_dir}")
    late = build(data_dir, args.accounts)
    print(f"{len(late):,} late-stream accounts to post")
    port = free_port()
    proc = serve(data_dir, port, data_dir / "uvicorn.log")
    base = f"http://127.0.0.1:{port}"
    bodies = Bodies(late)
    try:
        asyncio.run(open_loop(base, "/v1/accounts?score=sync", bodies, 50, 3))  # warm up
        show("POST /v1/accounts?score=sync", asyncio.run(
            open_loop(base, "/v1/accounts?score=sync", bodies, 100, args.duration)))
        best = None
        for rate in map(float, args.rates.split(",")):
            r = asyncio.run(open_loop(base, "/v1/accounts?score=sync", bodies, rate, args.duration))
            show(f"  step {rate:.0f}/s", r)
            if r["p99"] > 100 or r["errors"] or r["achieved"] < 0.95 * rate:
                break
            best = rate
        print(f"highest steady rate with p99 <= 100 ms: {best:.0f} req/s" if best else "no rate met p99 <= 100 ms")
        compare = best or 100.0
        for label, path in (("def handler (the API)", "/v1/accounts?score=sync"),
                            ("async + run_in_threadpool", "/bench/accounts-async?score=sync")):
            show(f"  {label}", asyncio.run(open_loop(base, path, bodies, compare, args.duration)))
        batch_ingest(base, args.ingest_accounts)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
