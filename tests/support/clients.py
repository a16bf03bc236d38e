"""Clients of the API: an in-process app on a real SQLite store, and error-shape assertions."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from ringfence.api.app import create_app
from tests.support.settings import ADMIN, make_settings

with warnings.catch_warnings():
    # Starlette prefers `httpx2` for its test client; `httpx` is what the project pins.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# gnn.graphdata builds sparse tensors without opting in or out of torch's invariant checks;
# that warning is the gnn module's to settle, not the API's.
TORCH_SPARSE = pytest.mark.filterwarnings("ignore:Sparse (invariant checks|CSR tensor support):UserWarning")

__all__ = ["TORCH_SPARSE", "TestClient", "assert_error", "running_app", "wait_job"]


@contextmanager
def running_app(tmp_path: Path, **overrides: Any) -> Iterator[TestClient]:
    """A client of an app whose lifespan runs for the block (in-process dispatcher)."""
    with TestClient(create_app(make_settings(tmp_path, **overrides))) as c:
        yield c


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
