"""Authorization matrix: every route x every scope, plus no key and an unknown key.

The app holds a real ring, job and model, so that every request a scope may make succeeds:
an allowed scope gets exactly the route's 2xx, any other scope 403 `forbidden`, no key or an
unknown one 401 `unauthenticated`. The matrix must name every `/v1` route of the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, TestClient, assert_error, running_app, wait_job
from tests.support.settings import ADMIN, KEYS, auth

pytestmark = TORCH_SPARSE

# (method, route template, concrete path, json body, scopes that may call it besides admin, 2xx)
ROUTES: list[tuple[str, str, str, Any, set[str], int]] = [
    ("POST", "/v1/accounts", "/v1/accounts?score=none", {"id": "m1"}, {"score"}, 201),
    ("POST", "/v1/accounts/batch", "/v1/accounts/batch", {"accounts": [{"id": "m2"}]}, {"score"}, 200),
    ("GET", "/v1/accounts/{id}", "/v1/accounts/m1", None, {"score", "investigate"}, 200),
    ("GET", "/v1/accounts/{id}/risk", "/v1/accounts/m1/risk", None, {"score"}, 200),
    ("GET", "/v1/accounts/{id}/labels", "/v1/accounts/r0/labels", None, {"investigate"}, 200),
    ("GET", "/v1/accounts/{id}/reasons", "/v1/accounts/r0/reasons", None, {"investigate"}, 200),
    ("GET", "/v1/accounts", "/v1/accounts", None, {"investigate"}, 200),
    ("GET", "/v1/accounts/{id}/subgraph", "/v1/accounts/m1/subgraph", None, {"investigate"}, 200),
    ("GET", "/v1/accounts/{id}/paths", "/v1/accounts/r0/paths", None, {"investigate"}, 200),
    ("POST", "/v1/labels", "/v1/labels", {"labels": []}, {"label"}, 200),
    ("GET", "/v1/rings", "/v1/rings", None, {"investigate"}, 200),
    ("GET", "/v1/rings/{id}", "/v1/rings/{ring}", None, {"investigate"}, 200),
    ("GET", "/v1/rings/{id}/graph", "/v1/rings/{ring}/graph", None, {"investigate"}, 200),
    ("PUT", "/v1/rings/{id}/case", "/v1/rings/{ring}/case", {"status": "open"}, {"label"}, 200),
    ("GET", "/v1/rings/{id}/case", "/v1/rings/{ring}/case", None, {"investigate"}, 200),
    ("POST", "/v1/sweeps", "/v1/sweeps", None, set(), 202),
    ("POST", "/v1/models/train", "/v1/models/train", None, set(), 202),
    ("GET", "/v1/models", "/v1/models", None, set(), 200),
    ("POST", "/v1/models/{version}/activate", "/v1/models/{version}/activate", None, set(), 200),
    ("GET", "/v1/jobs/{id}", "/v1/jobs/{job}", None, set(), 200),
    ("POST", "/v1/identifiers/{type}/{id}/benign", "/v1/identifiers/card/tok-1/benign", None, {"label"}, 200),
    ("GET", "/v1/identifiers/{type}/{id}", "/v1/identifiers/device/dev-ring", None, {"investigate"}, 200),
    ("GET", "/v1/whoami", "/v1/whoami", None, {"score", "investigate", "label"}, 200),
]
PUBLIC = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/docs")]
NO_KEY = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRtOmFkbQ=="},
          {"Authorization": f"Bearer {KEYS['admin']}x"}, {"Authorization": f"Bearer {KEYS['admin'][:-1]}"},
          {"Authorization": "Bearer"}, {"Authorization": f"bearer {KEYS['investigate']}X"}]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app with a swept ring and a trained model; the ids the matrix's paths need."""
    with running_app(Path(tmp_path_factory.mktemp("matrix"))) as client:
        accounts = [account_json(f"r{n}", ("device", "dev-ring"), ("card", f"tok-r{n % 2}")) for n in range(6)]
        accounts += [account_json(f"solo{n}", ("device", f"dev-{n}")) for n in range(6)]
        client.post("/v1/accounts/batch", json={"accounts": accounts}, headers=ADMIN)
        labels = [{"account_id": f"r{n}", "label": "fraud", "source": "t"} for n in range(3)]
        labels += [{"account_id": f"solo{n}", "label": "legit", "source": "t"} for n in range(3)]
        client.post("/v1/labels", json={"labels": labels}, headers=ADMIN)
        train = wait_job(client, client.post("/v1/models/train", headers=ADMIN).json()["id"], 300)
        sweep = wait_job(client, client.post("/v1/sweeps", headers=ADMIN).json()["id"], 300)
        assert train["status"] == sweep["status"] == "succeeded", (train, sweep)
        ring = client.get("/v1/rings", headers=ADMIN).json()["data"][0]["id"]
        version = client.get("/v1/models", headers=ADMIN).json()["active"]
        client.post("/v1/accounts?score=none", json={"id": "m1"}, headers=ADMIN)
        yield client, {"ring": ring, "version": version, "job": sweep["id"]}


@pytest.mark.parametrize(("method", "template", "path", "body", "allowed", "success"), ROUTES,
                         ids=[f"{m} {t}" for m, t, *_ in ROUTES])
def test_matrix(world: tuple[TestClient, dict[str, str]], method: str, template: str, path: str, body: object,
                allowed: set[str], success: int) -> None:
    client, ids = world
    path = path.format(**ids)
    for scope in KEYS:
        response = client.request(method, path, json=body, headers=auth(scope))
        if scope == "admin" or scope in allowed:
            assert response.status_code == success, (scope, response.text)
        else:
            assert_error(response, 403, "forbidden")
        if method == "POST" and template == "/v1/sweeps" and response.status_code == 202:
            wait_job(client, response.json()["id"], 300)  # the next sweep must not meet this one (409)
    for headers in NO_KEY:
        response = client.request(method, path, json=body, headers=headers)
        assert_error(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_matrix_names_every_route(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    paths = client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert {(m, p) for m, p in served if p.startswith("/v1")} == {(m, t) for m, t, *_ in ROUTES}
    assert {(m, p) for m, p in served if not p.startswith("/v1")} <= set(PUBLIC)


def test_auth_comes_before_validation(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    # No key and an invalid body: the key is checked first, and the body is not echoed.
    assert_error(client.post("/v1/accounts", json={"bad": 1}), 401, "unauthenticated")
    assert_error(client.post("/v1/accounts", json={"bad": 1}, headers=auth("label")), 403, "forbidden")
    assert_error(client.get("/v1/accounts?limit=0", headers=auth("score")), 403, "forbidden")
    assert_error(client.get("/v1/rings/bad%20id"), 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path"), PUBLIC)
def test_public_routes_need_no_key(world: tuple[TestClient, dict[str, str]], method: str, path: str) -> None:
    client, _ = world
    assert client.request(method, path).status_code == 200
    assert client.request(method, path, headers={"Authorization": "Bearer nope"}).status_code == 200


def test_combined_scopes(tmp_path: Path) -> None:
    with running_app(tmp_path, api_keys="inv_lab:investigate+label") as c:
        headers = {"Authorization": "Bearer inv_lab"}
        assert c.get("/v1/rings", headers=headers).status_code == 200
        assert c.post("/v1/labels", json={"labels": []}, headers=headers).status_code == 200
        assert_error(c.post("/v1/accounts", json={"id": "x"}, headers=headers), 403, "forbidden")
        assert_error(c.get("/v1/models", headers=headers), 403, "forbidden")


def test_a_key_is_compared_with_every_known_key_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Timing cannot be asserted; what makes it constant can: every lookup makes one
    # `hmac.compare_digest` per configured key, whichever key (if any) matches.
    import hmac

    from ringfence.api import auth as auth_module
    from ringfence.core.settings import Settings

    keys = auth_module.KeyRing(Settings(api_keys="k1:admin,k2:score,k3:label", graph_url=""))
    calls: list[int] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return compare(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", counting)
    for presented, scopes in (("k1", {"admin"}), ("k3", {"label"}), ("k", None), ("k1x", None)):
        calls.clear()
        principal = keys.lookup(presented)
        assert (principal.scopes if principal else None) == scopes
        assert len(calls) == 3, presented
