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
from pathlib import Path

import pytest

DEMO_ACCOUNTS = 3_000
SETUP_TIMEOUT_S = 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = _free_port()
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
