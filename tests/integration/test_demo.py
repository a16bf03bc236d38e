"""`make run` end to end: `ringfence demo` on a fresh data dir builds a world, trains, sweeps and
serves; the three curl commands it prints are run as printed and must answer as contracted."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.launchers import free_port

DEMO_ACCOUNTS = 3_000
SETUP_TIMEOUT_S = 400


def _curl_commands(log: str) -> list[str]:
    """The printed commands: lines starting with `curl`, joined across `\\` continuations."""
    commands, current = [], ""
    for line in log.splitlines():
        stripped = line.strip()
        if not current and not stripped.startswith("curl "):
            continue
        current += stripped.removesuffix("\\") + " "
        if not stripped.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


def _wait_ready(port: int, proc: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"demo exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("demo did not start serving in time")


@pytest.mark.timeout(SETUP_TIMEOUT_S + 60)
def test_demo_prints_commands_that_work(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFENCE_")}
    env["RINGFENCE_DATA_DIR"] = str(tmp_path / "data")
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ringfence.cli", "demo", "--accounts", str(DEMO_ACCOUNTS), "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, text=True,
        )
    try:
        _wait_ready(port, proc, time.monotonic() + SETUP_TIMEOUT_S)
        log = log_path.read_text()
        assert re.search(r"admin key: adm_\S+", log), log[-2000:]
        page = re.search(r"investigator page: (http://\S+/ui/)", log)
        assert page is not None, log[-2000:]
        with urllib.request.urlopen(page.group(1), timeout=10) as response:  # noqa: S310 - loopback
            assert response.status == 200 and b"js/main.js" in response.read()
        commands = _curl_commands(log)
        assert len(commands) == 3, commands
        score_cmd, list_cmd, open_cmd = commands
        assert "score=sync" in score_cmd and "/v1/rings?limit=" in list_cmd and "/v1/rings/r-" in open_cmd

        def run(cmd: str) -> dict[str, object]:
            # Exactly as a newcomer would paste it, plus -w to see the status code.
            out = subprocess.run(["bash", "-c", cmd + " -w '\\n%{http_code}'"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
            body, status = out.rsplit("\n", 1)
            assert status in ("200", "201"), (cmd, status, body)
            return dict(json.loads(body))

        risk = run(score_cmd)["risk"]
        assert isinstance(risk, dict) and risk["account_id"] == "newcomer-1"
        assert 0.0 <= risk["risk"] <= 1.0
        assert risk["reasons"], "a newcomer joining a ring must come with reasons"
        assert not str(risk["model_version"]).startswith("heuristic"), "the demo trains a model"
        rings = run(list_cmd)
        assert rings["data"], "the demo sweep must find rings"
        ring = run(open_cmd)
        assert ring["members"] and ring["identifiers"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "data" / "ringfence.db").exists()


def test_with_a_broker_the_demo_runs_a_worker_that_does_the_async_work(
    tmp_path: Path, redis_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    from ringfence.cli import _demo_worker
    from tests.support.builders import account_json
    from tests.support.clients import running_app
    from tests.support.settings import ADMIN

    url = str(redis_server.url).rsplit("/", 1)[0] + "/12"  # type: ignore[attr-defined]
    redis.Redis.from_url(url).flushdb()
    # The worker process reads the same settings as `make run` would give it.
    for name in [k for k in os.environ if k.startswith("RINGFENCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RINGFENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RINGFENCE_BROKER_URL", url)
    with _demo_worker(url), running_app(tmp_path, broker_url=url) as client:
        body = account_json("async-1", ("device", "d"))
        assert client.post("/v1/accounts", json=body, headers=ADMIN).json()["job_id"]
        job = client.post("/v1/sweeps", headers=ADMIN).json()
        deadline = time.monotonic() + 180
        while (client.get("/v1/accounts/async-1", headers=ADMIN).json()["risk"] is None
               or client.get(f"/v1/jobs/{job['id']}", headers=ADMIN).json()["status"] in ("queued", "running")):
            assert time.monotonic() < deadline, "the demo's worker did not score the account or run the sweep"
            time.sleep(0.2)
        assert client.get(f"/v1/jobs/{job['id']}", headers=ADMIN).json()["status"] == "succeeded"
