"""Running the API: JSON logs with a request id and no keys, /metrics, /readyz with a broker,
job state shared through the store, and `ringfence serve` with its flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, TestClient, running_app, wait_job
from tests.support.launchers import free_port
from tests.support.settings import ADMIN, API_KEYS, KEYS

pytestmark = TORCH_SPARSE


def api_log_lines(stderr: str) -> list[dict[str, Any]]:
    """The API logger's records in `stderr`, each a JSON object (anything else fails)."""
    records = []
    for line in stderr.splitlines():
        if '"logger": "ringfence.api' in line:
            records.append(json.loads(line))
    return records


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics: (name, labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def sample(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_logs_are_json_lines_with_the_request_id_and_never_a_key(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    # when: a request with a caller's id, one with an unknown key, one with no id
    client.post("/v1/accounts?score=none", json=account_json("log-1"), headers={**ADMIN, "X-Request-ID": "trace-42"})
    unknown = "sk_live_0123456789abcdef"
    assert client.get("/v1/rings", headers={"Authorization": f"Bearer {unknown}"}).status_code == 401
    minted = client.get("/v1/accounts/log-1", headers=ADMIN).headers["x-request-id"]
    err = capfd.readouterr().err
    # then: one JSON object per line, with the request id the response carried
    records = api_log_lines(err)
    by_id = {r.get("request_id"): r for r in records if r["msg"] == "request"}
    traced = by_id["trace-42"]
    assert {k: traced[k] for k in ("level", "method", "route", "status", "key_id")} == {
        "level": "info", "method": "POST", "route": "/v1/accounts", "status": 201, "key_id": "key-0"}
    assert traced["ts"].endswith("Z") and traced["duration_ms"] >= 0
    assert by_id[minted]["route"] == "/v1/accounts/{id}"
    assert any(r["status"] == 401 and "key_id" not in r for r in records if r["msg"] == "request")
    # and no key, known or unknown, anywhere in the output
    for key in [*KEYS.values(), unknown]:
        assert key not in err


def test_metrics_count_requests_and_latency_by_route_and_status_and_jobs(client: TestClient) -> None:
    client.post("/v1/accounts?score=none", json=account_json("met-1"), headers=ADMIN)
    for account_id in ("met-1", "met-1", "ghost"):
        client.get(f"/v1/accounts/{account_id}", headers=ADMIN)
    job = client.post("/v1/sweeps", headers=ADMIN).json()
    wait_job(client, job["id"])
    found = samples(client)
    route = "/v1/accounts/{id}"
    assert sample(found, "ringfence_http_requests_total", method="GET", route=route, status="200") == 2
    assert sample(found, "ringfence_http_requests_total", method="GET", route=route, status="404") == 1
    assert sample(found, "ringfence_http_request_duration_seconds_count", method="GET", route=route,
                  status="200") == 2
    assert sample(found, "ringfence_http_request_duration_seconds_bucket", method="GET", route=route,
                  status="404", le="+Inf") == 1
    assert sample(found, "ringfence_jobs_total", kind="sweep", status="queued") == 1
    # the store's view: every job with its outcome, whoever started it
    assert sample(found, "ringfence_stored_jobs", kind="sweep", status="succeeded") == 1
    # embedded mode: the in-process queues, empty once the sweep is done
    assert sample(found, "ringfence_queue_depth", queue="online") == 0
    assert ("ringfence_queue_depth", frozenset({("queue", "jobs")})) in found
    # a 404 path is not a label of its own
    client.get("/v1/no/such/path/123")
    assert sample(samples(client), "ringfence_http_requests_total", method="GET", route="unmatched",
                  status="404") == 1


def test_readyz_and_queue_depth_with_a_redis_broker(tmp_path: Path, redis_server: Any) -> None:
    import redis

    url = redis_server.url.rsplit("/", 1)[0] + "/11"  # a database of its own on the session's server
    redis.Redis.from_url(url).flushdb()
    with running_app(tmp_path, broker_url=url) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"store": "ok", "broker": "ok", "model": "heuristic"}
        # no worker runs: three async scores wait on the online queue
        for n in range(3):
            assert c.post("/v1/accounts", json=account_json(f"q-{n}"), headers=ADMIN).status_code == 201
        found = samples(c)
        assert sample(found, "ringfence_queue_depth", queue="online") == 3
        assert sample(found, "ringfence_queue_depth", queue="jobs") == 0


def test_job_state_lives_in_the_store_across_replicas_and_restarts(tmp_path: Path) -> None:
    # given two replicas on one store
    with running_app(tmp_path) as a, running_app(tmp_path) as b:
        a.post("/v1/accounts/batch", json={"accounts": [account_json(f"j{n}", ("device", "d")) for n in range(4)]},
               headers=ADMIN)
        sweep = a.post("/v1/sweeps", headers=ADMIN)
        train = b.post("/v1/models/train", headers=ADMIN)  # no labels: this job fails
        assert sweep.status_code == 202 and train.status_code == 202
        # when each replica reads the job the other one started
        done_sweep = wait_job(b, sweep.json()["id"])
        done_train = wait_job(a, train.json()["id"])
        # then they agree
        assert done_sweep["status"] == "succeeded" and done_train["status"] == "failed" and done_train["error"]
        assert a.get(f"/v1/jobs/{sweep.json()['id']}", headers=ADMIN).json() == done_sweep
        assert b.get(f"/v1/jobs/{train.json()['id']}", headers=ADMIN).json() == done_train
    # and after a restart the jobs are still there, unchanged
    with running_app(tmp_path) as c:
        assert c.get(f"/v1/jobs/{sweep.json()['id']}", headers=ADMIN).json() == done_sweep
        assert c.get(f"/v1/jobs/{train.json()['id']}", headers=ADMIN).json() == done_train


def _spawned_children(pid: int) -> int:
    """Processes whose parent is `pid` and that multiprocessing spawned (uvicorn's workers)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            count += 1
    return count


def test_serve_takes_host_port_and_workers_from_flags(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFENCE_")}
    env |= {"RINGFENCE_DATA_DIR": str(tmp_path), "RINGFENCE_API_KEYS": API_KEYS}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ringfence.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.3)
        response = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=ADMIN, timeout=5)
        assert response.json() == {"active": None, "models": []}
        deadline = time.monotonic() + 60
        while _spawned_children(proc.pid) != 2:
            assert time.monotonic() < deadline, "expected 2 worker processes"
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    # the server's own lines are JSON like the API's, one startup per worker
    server = [json.loads(line) for line in err.splitlines() if '"logger": "uvicorn.error"' in line]
    assert [r["msg"] for r in server].count("Application startup complete.") == 2, err[-2000:]


def test_settings_never_show_a_key() -> None:
    from pydantic import ValidationError

    from ringfence.core.settings import Settings

    settings = Settings(api_keys="adm_hush1:admin,sco_hush2:score", graph_url="")
    assert "hush" not in repr(settings) and "hush" not in str(settings.model_dump())
    assert settings.key_scopes() == {"adm_hush1": frozenset({"admin"}), "sco_hush2": frozenset({"score"})}
    # a bad entry is reported without the value, which holds the good keys too
    with pytest.raises(ValidationError) as error:
        Settings(api_keys="adm_hush1:admin,x:wrong")
    assert "hush" not in str(error.value)
