"""Processes the tests start: servers (from `devservices`), Celery workers, beat and the API.

Every process runs the installed code under this interpreter, in its own process group (so a
test can kill a worker with its pool, like a lost machine). A test that needs a worker stopped
at a known point uses `SweepHold`, a barrier the test releases, never a sleep window.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from devservices.services import LOOPBACK, Neo4jServer, RedisServer, free_port
from tests.support.settings import ADMIN_KEY, SCORE_KEY

__all__ = ["LOOPBACK", "ApiServer", "Beat", "Neo4jServer", "RedisServer", "SweepHold", "Worker", "free_port",
           "wait_for"]

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
HOLD_ENV = "RINGFENCE_TEST_SWEEP_HOLD"
SHARD_HOLD_ENV = "RINGFENCE_TEST_SHARD_HOLD"  # a directory: shards stop after computing, before staging
SHARD_FAIL_ENV = "RINGFENCE_TEST_SHARD_FAIL"  # a shard number: that shard raises on every attempt


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy (a state another process reaches)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class SweepHold:
    """A barrier between a test and the sweeps of worker processes started with `env`.

    Each sweep stops at its first phase (after loading the graph, before publishing anything),
    says so with a file `reached-<pid>`, and waits until the test calls `release()`.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        return {HOLD_ENV: str(self.dir)}

    def reached(self) -> list[int]:
        """Pids of the sweeps that have stopped at the barrier so far."""
        return sorted(int(p.name.removeprefix("reached-")) for p in self.dir.glob("reached-*"))

    def wait_reached(self, count: int, timeout: float = 60) -> list[int]:
        return wait_for(lambda: len(self.reached()) >= count and self.reached(), timeout,  # type: ignore[no-any-return]
                        f"{count} sweep(s) at the barrier")

    def release(self) -> None:
        """Let every sweep at the barrier, and every later one, go on."""
        (self.dir / "go").touch()

    def trainings_reached(self) -> list[int]:
        """Pids of the training jobs that have stopped at the barrier (before training starts)."""
        return sorted(int(p.name.removeprefix("training-")) for p in self.dir.glob("training-*"))

    def wait_training_reached(self, count: int, timeout: float = 60) -> list[int]:
        return wait_for(lambda: len(self.trainings_reached()) >= count and self.trainings_reached(),  # type: ignore[no-any-return]
                        timeout, f"{count} training job(s) at the barrier")


def _hold_sweeps(directory: str) -> None:
    """In a worker process: make `services.sweeps.run_sweep` stop at the `SweepHold` barrier."""
    import ringfence.services.sweeps as sweeps

    real_run = sweeps.run_sweep

    def run_sweep(store: Any, settings: Any, scorer: Any = None, job_id: Any = None, progress: Any = None,
                  **kwargs: Any) -> Any:
        held: list[bool] = []

        def hold(*args: Any) -> None:
            if not held:
                held.append(True)
                Path(directory, f"reached-{os.getpid()}").touch()
                while not Path(directory, "go").exists():  # the test's event, not a time window
                    time.sleep(0.02)
            if progress:
                progress(*args)

        return real_run(store, settings, scorer=scorer, job_id=job_id, progress=hold, **kwargs)

    sweeps.run_sweep = run_sweep  # type: ignore[assignment]

    # Training too: `services.training` imports `gnn.train.train` when a job runs.
    import ringfence.gnn.train as training

    real_train = training.train

    def train(*args: Any, **kwargs: Any) -> Any:
        Path(directory, f"training-{os.getpid()}").touch()
        while not Path(directory, "go").exists():
            time.sleep(0.02)
        return real_train(*args, **kwargs)

    training.train = train  # type: ignore[assignment]


def _shard_faults(hold: str | None, fail: str | None) -> None:
    """In a worker process: stop each shard at the `SweepHold` barrier (`reached-<pid>`) after it
    is computed and before it is staged, and/or make shard number `fail` raise every time."""
    import ringfence.services.shard_jobs as shard_jobs

    real_shard, real_one = shard_jobs.run_shard, shard_jobs.run_one_shard

    def run_shard(*args: Any, **kwargs: Any) -> Any:
        out = real_shard(*args, **kwargs)
        if hold and not Path(hold, "go").exists():
            Path(hold, f"reached-{os.getpid()}").touch()
            while not Path(hold, "go").exists():  # the test's event, not a time window
                time.sleep(0.02)
        return out

    def run_one_shard(store: Any, settings: Any, job_id: str, sweep_id: str, shard: int, *args: Any) -> Any:
        if fail is not None and shard == int(fail):
            raise RuntimeError(f"shard {shard} fails on purpose")
        return real_one(store, settings, job_id, sweep_id, shard, *args)

    shard_jobs.run_shard = run_shard  # type: ignore[assignment]
    shard_jobs.run_one_shard = run_one_shard  # type: ignore[assignment]


def worker_main() -> None:
    """`python -c` entry of test workers: the barriers and faults asked for, then the ordinary celery command."""
    if HOLD_ENV in os.environ:
        _hold_sweeps(os.environ[HOLD_ENV])
    if SHARD_HOLD_ENV in os.environ or SHARD_FAIL_ENV in os.environ:
        _shard_faults(os.environ.get(SHARD_HOLD_ENV), os.environ.get(SHARD_FAIL_ENV))
    from celery.__main__ import main

    sys.argv = ["celery", *sys.argv[1:]]
    main()


class _Process:
    name: str
    log: Path
    proc: subprocess.Popen[bytes]
    ready_text = ""  # the log line that says the process serves

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.text()[-3000:]}")

    def wait_ready(self, timeout: float = 60) -> Self:
        wait_for(lambda: self._alive() or self.ready_text in self.text(), timeout, f"{self.name} to be ready", 0.2)
        return self

    def count(self, pattern: str) -> int:
        """How many log lines match `pattern` so far."""
        return len(re.findall(pattern, self.text()))

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


class Worker(_Process):
    """A real `celery -A ringfence.workers worker` process."""

    ready_text = " ready."

    def __init__(self, name: str, queues: str, env: dict[str, str], logdir: Path, concurrency: int = 1) -> None:
        self.name = name
        self.log = logdir / f"worker-{name}.log"
        argv = ["-A", "ringfence.workers", "worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h",
                "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if {HOLD_ENV, SHARD_HOLD_ENV, SHARD_FAIL_ENV} & env.keys():
            cmd = [PYTHON, "-c", "from tests.support.launchers import worker_main; worker_main()", *argv]
        else:
            cmd = [PYTHON, "-m", "celery", *argv]
        self._spawn(cmd, env)

    def received(self, task: str) -> int:
        return self.count(rf"Task {re.escape(task)}\[[0-9a-f-]+\] received")


class Beat(_Process):
    """A real `celery -A ringfence.workers beat` process (the schedule file in `logdir`)."""

    ready_text = "beat: Starting"

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.name = "beat"
        self.log = logdir / "beat.log"
        self._spawn([PYTHON, "-m", "celery", "-A", "ringfence.workers", "beat", "--loglevel=INFO",
                     f"--schedule={logdir / 'beat-schedule'}"], env)

    def sent(self, task: str) -> int:
        return self.count(rf"Sending due task \S+ \({re.escape(task)}\)")


class ApiServer(_Process):
    """The API under uvicorn on 127.0.0.1, as in production."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.name = "api"
        self.log = logdir / "api.log"
        self.port = free_port()
        env = {"RINGFENCE_API_KEYS": f"{SCORE_KEY}:score,{ADMIN_KEY}:admin",
               "RINGFENCE_RATE_LIMIT_PER_S": "100000", "RINGFENCE_RATE_LIMIT_BURST": "100000",
               "RINGFENCE_AUTH_FAILURES_PER_S": "100000", "RINGFENCE_AUTH_FAILURES_BURST": "100000", **env}
        # `ringfence serve`: uvicorn with the API's own protocol and options (api.server)
        self._spawn([PYTHON, "-c", "from ringfence.cli import app; app()", "serve", "--host", LOOPBACK,
                     "--port", str(self.port)], env)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout: float = 60) -> Self:
        import httpx

        def up() -> bool:
            self._alive()
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, "the API to serve", every=0.2)
        return self
