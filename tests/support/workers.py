"""Shared pieces of the worker tests: real redis-server and Celery worker processes, a small world.

No tests here. `gnn.score` and `workers.sweep` are written alongside the workers; while one
of them is missing, `install_fallbacks()` puts a minimal stand-in under its name (in this
process and in every worker started here) so the broker, redelivery and idempotency
mechanics can be tested. Once the real module exists it is always used instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from ringfence.graph.model import AccountIn, Link, PublishedRing, RingIdentifier, Score, SweepResult, utcnow
from ringfence.graph.store import GraphStore

from ringfence.core.errors import NotFound, SweepRunning
from ringfence.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
SWEEP_DELAY_ENV = "RINGFENCE_TEST_SWEEP_DELAY_S"


def real(module: str) -> bool:
    """Whether the module's source exists (sys.modules may hold a stand-in)."""
    return (ROOT / (module.replace(".", "/") + ".py")).exists()


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- stand-ins while gnn.score / workers.sweep are being written ------------------------


class FallbackScorer:
    version = "fallback-1"

    def score_accounts(self, store: GraphStore, account_ids: Sequence[str], as_of: Any = None) -> list[Score]:
        as_of = as_of or utcnow()
        out = []
        for account_id in account_ids:
            account = store.get_account(account_id)
            if account is None:
                raise NotFound(f"account {account_id} not found")
            out.append(Score(account_id, min(1.0, len(account.links) / 10), self.version, utcnow(), as_of))
        return out


def fallback_current_scorer(settings: Settings) -> FallbackScorer:
    return FallbackScorer()


def fallback_run_sweep(
    store: GraphStore, settings: Settings, scorer: Any = None, job_id: str | None = None, progress: Any = None
) -> SweepResult:
    """Rings = components over shared identifiers; ids kept across sweeps by majority overlap."""
    owner = job_id or uuid.uuid4().hex
    if not store.acquire_lock("sweep", owner, settings.sweep_lock_ttl_s):
        raise SweepRunning()
    try:
        if job_id:
            store.update_job(job_id, "running")
        started = utcnow()
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        by_identifier: dict[tuple[str, str], list[str]] = {}
        for chunk in store.stream_links():
            for link in chunk:
                by_identifier.setdefault((link.type, link.id), []).append(link.account_id)
        for members in by_identifier.values():
            if 1 < len(members) <= settings.hub_cap:
                for m in members[1:]:
                    parent[find(m)] = find(members[0])
        groups: dict[str, list[str]] = {}
        for account in parent:
            groups.setdefault(find(account), []).append(account)
        previous = store.current_rings()
        rings = []
        for members in (sorted(g) for g in groups.values() if len(g) >= settings.min_ring_size):
            match = max(previous.items(), key=lambda kv: len(set(kv[1]) & set(members)), default=None)
            same = match is not None and len(set(match[1]) & set(members)) * 2 > len(members)
            ring_id = match[0] if same and match is not None else "ring_" + uuid.uuid4().hex[:12]
            event = ("unchanged" if match[1] == members else "grew") if same and match is not None else "created"
            idents = [
                RingIdentifier(t, i, len(ms))  # type: ignore[arg-type]
                for (t, i), ms in by_identifier.items()
                if 1 < len(ms) and ms[0] in members
            ]
            rings.append(PublishedRing(ring_id, 0.9, members, idents, started, event))  # type: ignore[arg-type]
        delay = float(os.environ.get(SWEEP_DELAY_ENV, "0"))
        if progress:
            progress("detect", 0.5)
        time.sleep(delay)  # the window in which the tests kill the worker
        risks = {m: 0.9 for r in rings for m in r.members}
        kept = {r.id for r in rings}
        dissolved = [(rid, len(ms)) for rid, ms in previous.items() if rid not in kept]
        result = SweepResult(uuid.uuid4().hex, started, utcnow(), "fallback-1", risks, rings, dissolved)
        store.publish_sweep(result)
        if job_id:
            store.update_job(job_id, "succeeded", result={"sweep_id": result.sweep_id, "rings": len(rings)})
        return result
    except SweepRunning:
        raise
    except Exception as exc:
        if job_id:
            store.update_job(job_id, "failed", error=f"internal: {exc}")
        raise
    finally:
        store.release_lock("sweep", owner)


def install_fallbacks(setitem: Callable[[str, Any], None] = sys.modules.__setitem__) -> list[str]:
    """Stand in for missing collaborators; returns the names stood in for.

    Tests pass `monkeypatch.setitem` bound to `sys.modules` so nothing outlives the test.
    """
    installed = []
    if not real("ringfence.gnn.score"):
        setitem("ringfence.gnn.score", types.SimpleNamespace(current_scorer=fallback_current_scorer))
        installed.append("ringfence.gnn.score")
    if not real("ringfence.workers.sweep"):
        setitem("ringfence.workers.sweep", types.SimpleNamespace(run_sweep=fallback_run_sweep))
        installed.append("ringfence.workers.sweep")
    return installed


def _slow_real_sweep() -> None:
    """Hold the real sweep for SWEEP_DELAY_ENV seconds at its first progress report."""
    delay = float(os.environ.get(SWEEP_DELAY_ENV, "0"))
    if not delay:
        return
    import ringfence.workers.sweep as sweep_module

    real_run = sweep_module.run_sweep

    def run_sweep(store: Any, settings: Any, scorer: Any = None, job_id: Any = None, progress: Any = None) -> Any:
        slept = []

        def hold(*args: Any, **kwargs: Any) -> None:
            if not slept:
                slept.append(True)
                time.sleep(delay)
            if progress:
                progress(*args, **kwargs)

        return real_run(store, settings, scorer=scorer, job_id=job_id, progress=hold)

    sweep_module.run_sweep = run_sweep  # type: ignore[assignment]


def worker_bootstrap() -> None:
    """`python -c` entry of test workers: stand-ins (if any), then the ordinary celery command."""
    install_fallbacks()
    if real("ringfence.workers.sweep"):
        _slow_real_sweep()
    from celery.__main__ import main

    sys.argv = ["celery", *sys.argv[1:]]
    main()


# -- processes ---------------------------------------------------------------------------


class LocalRedis:
    """A throwaway redis-server. AOF on (fsync always) so a restart keeps queued messages,
    as a production broker must: without persistence a restart silently drops the queue."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 10, "redis-server to answer")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


class Worker:
    """A real `celery -A workers.app worker` process in its own process group."""

    def __init__(self, name: str, queues: str, env: dict[str, str], logdir: Path, concurrency: int = 1) -> None:
        self.name = name
        self.log = logdir / f"worker-{name}.log"
        argv = ["-A", "ringfence.workers.app", "worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h",
                "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if real("ringfence.gnn.score") and real("ringfence.workers.sweep") and SWEEP_DELAY_ENV not in env:
            cmd = [PYTHON, "-m", "celery", *argv]
        else:
            cmd = [PYTHON, "-c", "from tests.support.workers import worker_bootstrap; worker_bootstrap()", *argv]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> Worker:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.text()[-3000:]}")
            return " ready." in self.text()

        wait_for(ready, timeout, f"worker {self.name} to be ready", every=0.2)
        return self

    def received(self, task: str) -> int:
        return len(re.findall(rf"Task {re.escape(task)}\[[0-9a-f-]+\] received", self.text()))

    def kill9(self) -> None:
        """SIGKILL to the whole group: the main process and its pool, like a lost machine."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class Beat(Worker):
    """A real `celery -A workers.app beat` process (the schedule file in `logdir`)."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.name = "beat"
        self.log = logdir / "beat.log"
        cmd = [PYTHON, "-m", "celery", "-A", "ringfence.workers.app", "beat", "--loglevel=INFO",
               f"--schedule={logdir / 'beat-schedule'}"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> Beat:
        wait_for(lambda: "beat: Starting" in self.text() or self.proc.poll() is not None, timeout, "beat to start")
        assert self.proc.poll() is None, self.text()[-3000:]
        return self

    def sent(self, task: str) -> int:
        return len(re.findall(rf"Sending due task \S+ \({re.escape(task)}\)", self.text()))


ADMIN_KEY = "adm_test_key"
SCORE_KEY = "onb_test_key"


class ApiServer(Worker):
    """The API under uvicorn on 127.0.0.1, in its own process group, as in production."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.name = "api"
        self.log = logdir / "ringfence.api.log"
        self.port = free_port()
        cmd = [PYTHON, "-m", "uvicorn", "ringfence.api.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        env = {"RINGFENCE_API_KEYS": f"{SCORE_KEY}:score,{ADMIN_KEY}:admin",
               "RINGFENCE_RATE_LIMIT_PER_S": "100000", "RINGFENCE_RATE_LIMIT_BURST": "100000", **env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> ApiServer:
        import httpx

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"the API exited:\n{self.text()[-3000:]}")
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, "the API to serve", every=0.2)
        return self


def account_body(account_id: str, links: int = 2) -> dict[str, Any]:
    """The JSON of `account(account_id, links)` for `POST /v1/accounts`."""
    return {"id": account_id, "attributes": {"channel": "web"},
            "links": [{"type": "card", "id": f"c_{account_id}_{i}"} for i in range(links)]}


def worker_env(redis_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "RINGFENCE_BROKER_URL": redis_url,
        "RINGFENCE_DATA_DIR": str(tmp / "data"),
        "RINGFENCE_GRAPH_URL": f"sqlite:///{tmp / 'graph.db'}",
        **extra,
    }


# -- a small world -----------------------------------------------------------------------


def ring_world(rings: int, size: int, singles: int, prefix: str = "acc") -> list[AccountIn]:
    """`rings` groups of `size` accounts sharing a device, plus `singles` unlinked accounts."""
    t0 = utcnow() - timedelta(days=30)
    out = []
    for r in range(rings):
        for m in range(size):
            out.append(AccountIn(f"{prefix}_r{r}_{m}", t0, {"country": "GB"},
                                 (Link("device", f"dev_{prefix}_r{r}"), Link("card", f"card_{prefix}_r{r}_{m}"))))
    for s in range(singles):
        out.append(AccountIn(f"{prefix}_s{s}", t0, {"country": "FR"}, (Link("card", f"card_{prefix}_s{s}"),)))
    return out


def account(account_id: str, links: int = 2) -> AccountIn:
    return AccountIn(account_id, utcnow(), {"channel": "web"},
                     tuple(Link("card", f"c_{account_id}_{i}") for i in range(links)))
