"""Body size (413), rate limits (429 with Retry-After), in-process and on Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import TestClient, assert_error, running_app
from tests.support.launchers import RedisServer
from tests.support.settings import ADMIN, auth

MIB = 1024 * 1024



def test_body_over_10_mib_is_413(client: TestClient) -> None:
    big = b'{"accounts": [' + b" " * (10 * MIB) + b"]}"
    response = client.post("/v1/accounts/batch", content=big, headers={**ADMIN, "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they stream
        yield b'{"accounts": ['
        for _ in range(11):
            yield b" " * MIB
        yield b"]}"

    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post("/v1/accounts/batch", content=chunks(), headers=headers)
    assert_error(response, 413, "payload_too_large")
    just_under = b'{"accounts": [' + b" " * (10 * MIB - 100) + b"]}"
    response = client.post("/v1/accounts/batch", content=just_under,
                           headers={**ADMIN, "Content-Type": "application/json"})
    assert response.json() == {"accounts": 0, "links": 0}
    # a body where none is taken is counted all the same
    response = client.request("GET", "/v1/rings", content=b" " * (10 * MIB + 1), headers=ADMIN)
    assert_error(response, 413, "payload_too_large")


def test_rate_limit_per_key(tmp_path: Path) -> None:
    with running_app(tmp_path, rate_limit_per_s=0.5, rate_limit_burst=3) as c:
        statuses = [c.get("/v1/models", headers=ADMIN).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = c.get("/v1/models", headers=ADMIN)
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        # another key has its own bucket; public routes are not limited
        assert c.get("/v1/rings", headers=auth("investigate")).status_code == 200
        assert c.get("/healthz").status_code == 200


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with RedisServer(directory=tmp_path / "redis") as server:
        yield server.url


def test_rate_limit_shared_on_redis(tmp_path: Path, redis_url: str) -> None:
    from ringfence.api.ratelimit import RedisWindowLimiter

    # Two apps (two replicas) count in the same window.
    with running_app(tmp_path / "a", broker_url=redis_url, rate_limit_per_s=0.2, rate_limit_burst=4) as a, \
            running_app(tmp_path / "b", broker_url=redis_url, rate_limit_per_s=0.2, rate_limit_burst=4) as b:
        assert isinstance(a.app.state.limiter, RedisWindowLimiter)  # type: ignore[attr-defined]
        statuses = [c.get("/v1/models", headers=ADMIN).status_code for c in (a, b, a, b, a, b)]
        assert statuses[:4] == [200, 200, 200, 200] and statuses[4:] == [429, 429], statuses
        assert int(b.get("/v1/models", headers=ADMIN).headers["retry-after"]) >= 1


def test_rate_limiter_fails_open_without_redis(tmp_path: Path) -> None:
    with running_app(tmp_path, broker_url="redis://127.0.0.1:9/0", rate_limit_per_s=0.1, rate_limit_burst=1) as c:
        assert [c.get("/v1/models", headers=ADMIN).status_code for _ in range(3)] == [200, 200, 200]
