"""Sustained async ingest through the API, a Redis broker and two workers; then with a sweep.

    .venv/bin/python bench/load.py [--duration 60] [--rates 10,20,30,40,50,60,80] [--step 15]

Everything runs on this machine over 127.0.0.1: redis-server, an `online` and a `jobs` worker
started as `ringfence worker --queues online|jobs` starts them (so the jobs worker runs at
lower CPU priority), and the API under uvicorn, on the embedded SQLite store holding the
cached 100k-account world and its trained model (`/tmp/ringfence-bench`; built as
bench/api.py builds it when absent). The load is open loop: `POST /v1/accounts?score=async`
requests leave on a clock, not when the previous one returns, and their latency counts from
the scheduled send time. Each new account links one existing identifier of the world and
one new card. The delay of a score is `scored_at` read back from the store minus the
request's scheduled time.

1. Rate steps of `--step` seconds, up while a step holds: no errors, at least 95% of the
   offered rate achieved, the online queue drained within 10 s of the step's end, ingest p99
   <= 250 ms and score delay p99 <= 1 s.
2. `--duration` seconds at the highest rate that held (one step lower if that run does not
   hold): ingest p50/p99, score delay p50/p99, queue depth at the end of the window and how
   long it took to drain.
3. The same with sweeps running back to back on the jobs worker; the online delay ratio
   (with / without) must stay at or under 2.
Prints figures; asserts nothing. Bounded: every phase has a fixed request count and duration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

import httpx  # noqa: E402

from devservices.services import RedisServer, free_port  # noqa: E402
from ringfence.core.settings import Settings  # noqa: E402
from ringfence.graph.sqlite_store import SQLiteStore  # noqa: E402
from ringfence.workers.dispatch import CeleryDispatcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/ringfence-bench")
SCORE_KEY, ADMIN_KEY = "load_score_key", "load_admin_key"
LOOPBACK = "127.0.0.1"


# -- the system under load -----------------------------------------------------------------


def prepare(work: Path, accounts: int) -> Path:
    """The store and model in `work`: a copy of the cached ones, else built like bench/api.py."""
    db = work / "ringfence.db"
    world, models = CACHE / f"world-default-{accounts}-1.db", CACHE / "data" / "models"
    if world.exists() and (models / "ACTIVE").exists():
        shutil.copyfile(world, db)
        shutil.copytree(models, work / "models")
    else:
        from bench.api import build

        build(work, accounts)
    return db


class Processes:
    """redis-server, the two workers and the API; stopped in reverse order."""

    def __init__(self, work: Path, db: Path) -> None:
        self.work = work
        self.redis = RedisServer(directory=work / "redis").start()
        self.env = {
            **os.environ, "RINGFENCE_DATA_DIR": str(work), "RINGFENCE_GRAPH_URL": f"sqlite:///{db}",
            "RINGFENCE_BROKER_URL": self.redis.url, "RINGFENCE_API_KEYS": f"{SCORE_KEY}:score,{ADMIN_KEY}:admin",
            "RINGFENCE_RATE_LIMIT_PER_S": "1000000", "RINGFENCE_RATE_LIMIT_BURST": "1000000",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        for queue in ("online", "jobs"):
            self._spawn(f"worker-{queue}", [sys.executable, "-m", "ringfence.cli", "worker", "--queues", queue])
        self.port = free_port()
        self._spawn("api", [sys.executable, "-m", "uvicorn", "ringfence.api.app:create_app", "--factory",
                            "--host", LOOPBACK, "--port", str(self.port), "--no-access-log", "--log-level", "warning"])
        self._wait(lambda: all(" ready." in (work / f"worker-{q}.log").read_text() for q in ("online", "jobs")),
                   "the workers")
        self._wait(self._api_ready, "the API")

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _spawn(self, name: str, cmd: list[str]) -> None:
        with (self.work / f"{name}.log").open("wb") as log:
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def _api_ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait(self, ready: Any, what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [p.args for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start ({dead or 'timeout'}); logs in {self.work}")
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.redis.stop()


# -- load --------------------------------------------------------------------------------


def existing_identifiers(db: Path, n: int = 20_000, seed: int = 1) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT type, id FROM links LIMIT ?", (n * 5,)).fetchall()
    return random.Random(seed).sample(rows, min(n, len(rows)))


def body(prefix: str, i: int, idents: list[tuple[str, str]]) -> dict[str, Any]:
    t, x = idents[i % len(idents)]
    return {"id": f"{prefix}_{i:06d}", "attributes": {"channel": "web"},
            "links": [{"type": t, "id": x}, {"type": "card", "id": f"lc_{prefix}_{i}"}]}


async def open_loop(base: str, prefix: str, idents: list[tuple[str, str]], rate: float, duration: float
                    ) -> dict[str, Any]:
    """`rate * duration` requests, the i-th sent at start + i/rate; at most duration + 60 s."""
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    headers = {"Authorization": f"Bearer {SCORE_KEY}"}
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    errors: dict[str, int] = {}
    total = int(rate * duration)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=headers) as client:
        start = time.perf_counter() + 0.2
        wall = time.time() + 0.2

        async def one(i: int) -> None:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            b = body(prefix, i, idents)
            try:
                response = await client.post("/v1/accounts", params={"score": "async"}, json=b)
                key = "" if response.status_code == 201 else str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            latencies.append(time.perf_counter() - (start + i / rate))
            if key:
                errors[key] = errors.get(key, 0) + 1
            else:
                sent_at[b["id"]] = wall + i / rate

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(total))), duration + 60)
        elapsed = time.perf_counter() - start
    return {"offered": rate, "achieved": len(latencies) / elapsed, "ingest": ms_quantiles(latencies),
            "errors": errors, "n": total, "sent_at": sent_at}


def ms_quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def drain(dispatcher: CeleryDispatcher, store: SQLiteStore, r: dict[str, Any], timeout: float = 10) -> None:
    """Queue depth at the window's end, then wait (bounded) for the queue and the scores."""
    r["queue_at_end"] = dispatcher.queue_depth()["online"]
    started = time.monotonic()
    pending = dict(r["sent_at"])
    delays: list[float] = []
    while True:
        for account_id in list(pending):
            score = store.get_score(account_id)
            if score is not None:
                delays.append(score.scored_at.timestamp() - pending.pop(account_id))
        if not pending and dispatcher.queue_depth()["online"] == 0:
            break
        if time.monotonic() - started > timeout:
            break
        time.sleep(0.5)
    r["drained_in"] = time.monotonic() - started if not pending else None
    r["unscored"] = len(pending)
    r["delay"] = ms_quantiles(delays)


# What "the machine holds a rate" means here: besides no errors and a queue that drains, the
# online path stays within an onboarding budget (a score well inside a second of the request).
MAX_INGEST_P99_MS = 250.0
MAX_DELAY_P99_MS = 1000.0


def holds(r: dict[str, Any]) -> bool:
    return (not r["errors"] and r["achieved"] >= 0.95 * r["offered"] and r["drained_in"] is not None
            and r["ingest"][1] <= MAX_INGEST_P99_MS and r["delay"][1] <= MAX_DELAY_P99_MS)


def show(label: str, r: dict[str, Any]) -> None:
    drained = f"{r['drained_in']:.1f}s" if r["drained_in"] is not None else f"NO ({r['unscored']} unscored)"
    print(f"{label:<22} offered {r['offered']:5.0f}/s achieved {r['achieved']:6.1f}/s errors "
          f"{sum(r['errors'].values())}{r['errors'] or ''} | ingest p50 {r['ingest'][0]:6.1f} p99 "
          f"{r['ingest'][1]:7.1f} ms | score delay p50 {r['delay'][0]:6.1f} p99 {r['delay'][1]:7.1f} ms | "
          f"queue at end {r['queue_at_end']}, drained in {drained} | load {os.getloadavg()[0]:.2f}", flush=True)


class Sweeps:
    """Sweeps back to back through `POST /v1/sweeps` for as long as `run` is called."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        self.job: str | None = None
        self.started = self.succeeded = 0

    def tick(self) -> None:
        if self.job is not None:
            status = self.client.get(f"/v1/jobs/{self.job}").json()["status"]
            if status not in ("succeeded", "failed"):
                return
            self.succeeded += status == "succeeded"
        response = self.client.post("/v1/sweeps")
        self.job = response.json()["id"] if response.status_code == 202 else None
        self.started += response.status_code == 202

    async def run(self, until: float) -> None:
        while time.perf_counter() < until:
            await asyncio.to_thread(self.tick)
            await asyncio.sleep(1)


async def with_sweeps(base: str, sweeps: Sweeps, prefix: str, idents: list[tuple[str, str]], rate: float,
                      duration: float) -> dict[str, Any]:
    sweeper = asyncio.create_task(sweeps.run(time.perf_counter() + duration))
    await asyncio.sleep(3)  # the sweep is loading the graph before the window opens
    r = await open_loop(base, prefix, idents, rate, duration - 3)
    await sweeper
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--step", type=float, default=15.0, help="seconds per rate step")
    parser.add_argument("--rates", default="20,30,40,50,60,70,80,100")
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ringfence-bench-load-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; load {os.getloadavg()}; work dir {work}")
    db = prepare(work, args.accounts)
    idents = existing_identifiers(db)
    procs = Processes(work, db)
    settings = Settings(data_dir=work, graph_url=f"sqlite:///{db}", broker_url=procs.redis.url)
    dispatcher = CeleryDispatcher(settings)
    store = SQLiteStore(db)
    print(f"{store.count_accounts():,} accounts; API {procs.base}; workers online + jobs (nice "
          f"{settings.jobs_worker_nice}, 1 torch thread)", flush=True)
    try:
        warm = asyncio.run(open_loop(procs.base, "warm", idents, 10, 5))
        drain(dispatcher, store, warm, 30)
        show("warm-up", warm)
        held: list[float] = []
        for n, rate in enumerate(map(float, args.rates.split(","))):
            r = asyncio.run(open_loop(procs.base, f"step{n}", idents, rate, args.step))
            drain(dispatcher, store, r, 30)
            show(f"step {rate:.0f}/s", r)
            if not holds(r):
                break
            held.append(rate)
        if not held:
            raise SystemExit("no rate held")
        for attempt, best in enumerate(reversed(held[-2:])):
            base_run = asyncio.run(open_loop(procs.base, f"steady{attempt}", idents, best, args.duration))
            drain(dispatcher, store, base_run, 30)
            show(f"steady {args.duration:.0f}s", base_run)
            if holds(base_run):
                break
        sweeps = Sweeps(procs.base)
        swept = asyncio.run(with_sweeps(procs.base, sweeps, "swept", idents, best, args.duration))
        drain(dispatcher, store, swept, 30)
        show(f"with sweeps {args.duration:.0f}s", swept)
        ratio50 = swept["delay"][0] / base_run["delay"][0]
        ratio99 = swept["delay"][1] / base_run["delay"][1]
        print(f"sweeps started {sweeps.started}, succeeded {sweeps.succeeded} during the window")
        print(f"highest rate held for {args.duration:.0f}s: {best:.0f} req/s "
              f"({'held' if holds(base_run) else 'NOT held'} in the steady run); "
              f"online score delay with sweeps / without: p50 x{ratio50:.2f}, p99 x{ratio99:.2f} "
              f"({'within' if ratio99 <= 2 else 'OVER'} the 2x budget); at {datetime.now(UTC):%H:%M:%S} UTC")
        sweeps.client.close()
    finally:
        dispatcher.close()
        store.close()
        procs.stop()


if __name__ == "__main__":
    main()
