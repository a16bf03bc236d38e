"""Authorization matrix: every route x every scope, plus no key and an unknown key.

A request that passes the guard may still fail later (404 for an unknown id, 409, ...);
the matrix asserts only what the guard decides: 401, 403, or anything else.
"""

from __future__ import annotations

import pytest

from tests.test_api_support import (
    KEYS,
    TORCH_SPARSE,
    TestClient,
    assert_error,
    auth,
)

pytestmark = TORCH_SPARSE



# (method, path, json body, scopes that may call it)
ROUTES = [
    ("POST", "/v1/accounts?score=none", {"id": "m1"}, {"score"}),
    ("POST", "/v1/accounts/batch", {"accounts": [{"id": "m2"}]}, {"score"}),
    ("GET", "/v1/accounts/m1", None, {"score", "investigate"}),
    ("GET", "/v1/accounts/m1/risk", None, {"score"}),
    ("GET", "/v1/accounts", None, {"investigate"}),
    ("GET", "/v1/accounts/m1/subgraph", None, {"investigate"}),
    ("POST", "/v1/labels", {"labels": []}, {"label"}),
    ("GET", "/v1/rings", None, {"investigate"}),
    ("GET", "/v1/rings/r1", None, {"investigate"}),
    ("POST", "/v1/sweeps", None, set()),
    ("POST", "/v1/models/train", None, set()),
    ("GET", "/v1/models", None, set()),
    ("POST", "/v1/models/m1/activate", None, set()),
    ("GET", "/v1/jobs/j1", None, set()),
    ("POST", "/v1/identifiers/card/tok-1/benign", None, {"label"}),
]
PUBLIC = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_matrix(client: TestClient, method: str, path: str, body: object, allowed: set[str]) -> None:
    client.post("/v1/accounts?score=none", json={"id": "m1"}, headers=auth("admin"))
    for scope in KEYS:
        response = client.request(method, path, json=body, headers=auth(scope))
        if scope == "admin" or scope in allowed:
            assert response.status_code not in (401, 403), (scope, response.text)
            assert response.status_code < 500, (scope, response.text)
        else:
            assert_error(response, 403, "forbidden")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRtOmFkbQ=="},
                    {"Authorization": f"Bearer {KEYS['admin']}x"}, {"Authorization": "Bearer"}):
        response = client.request(method, path, json=body, headers=headers)
        assert_error(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"


def test_auth_comes_before_validation(client: TestClient) -> None:
    # No key and an invalid body: the key is checked first, and the body is not echoed.
    assert_error(client.post("/v1/accounts", json={"bad": 1}), 401, "unauthenticated")
    assert_error(client.post("/v1/accounts", json={"bad": 1}, headers=auth("label")), 403, "forbidden")
    assert_error(client.get("/v1/accounts?limit=0", headers=auth("score")), 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), PUBLIC)
def test_public_routes_need_no_key(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 200
    assert client.request(method, path, headers={"Authorization": "Bearer nope"}).status_code == 200


def test_combined_scopes(tmp_path: object) -> None:
    from api.app import create_app
    from tests.test_api_support import make_settings

    settings = make_settings(tmp_path, api_keys="inv_lab:investigate+label")  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as c:
        headers = {"Authorization": "Bearer inv_lab"}
        assert c.get("/v1/rings", headers=headers).status_code == 200
        assert c.post("/v1/labels", json={"labels": []}, headers=headers).status_code == 200
        assert_error(c.post("/v1/accounts", json={"id": "x"}, headers=headers), 403, "forbidden")
        assert_error(c.get("/v1/models", headers=headers), 403, "forbidden")
