"""Shared by the `test_api_*` modules: a running app on a real SQLite store in `tmp_path`
(with the in-process dispatcher), API keys per scope and error-shape assertions."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ringfence.api.app import create_app
from starlette.exceptions import StarletteDeprecationWarning

from ringfence.core.settings import Settings

with warnings.catch_warnings():
    # Starlette prefers `httpx2` for its test client; `httpx` is what the project pins.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# gnn.graphdata builds sparse tensors without opting in or out of torch's invariant checks;
# that warning is the gnn module's to settle, not the API's.
TORCH_SPARSE = pytest.mark.filterwarnings("ignore:Sparse (invariant checks|CSR tensor support):UserWarning")

KEYS = {"admin": "adm_k3y", "score": "sco_k3y", "investigate": "inv_k3y", "label": "lab_k3y"}
API_KEYS = ",".join(f"{key}:{scope}" for scope, key in KEYS.items())


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[scope]}"}


ADMIN = auth("admin")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path, "api_keys": API_KEYS, "rate_limit_per_s": 1e6, "rate_limit_burst": 1_000_000,
        "graph_url": "", "broker_url": None,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running_app(tmp_path: Path, **overrides: Any) -> Iterator[TestClient]:
    """A client of an app whose lifespan runs for the block."""
    with TestClient(create_app(make_settings(tmp_path, **overrides))) as c:
        yield c


def account(account_id: str, *links: tuple[str, str], **attributes: Any) -> dict[str, Any]:
    return {"id": account_id, "attributes": attributes, "links": [{"type": t, "id": i} for t, i in links]}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "details"}
    return body["error"]  # type: ignore[no-any-return]


def wait_job(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """The job once it has succeeded or failed (polled through the API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=ADMIN).json()
        if job["status"] in ("succeeded", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")
