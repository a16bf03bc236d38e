"""The HTTP edge (issue #14): no redirects, headers, /docs from the package, slow and half-sent
requests closed, failed authentication throttled per address, responses capped on hub-shaped
data, deep JSON and forged cursors refused, and a 500 logged as one bounded line."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ringfence.api.pagination import CursorSeal
from ringfence.api.routes.docs import ASSETS
from ringfence.graph import cursor as cursors
from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, TestClient, assert_error, running_app
from tests.support.launchers import LOOPBACK, ApiServer
from tests.support.settings import ADMIN, auth, make_settings

pytestmark = TORCH_SPARSE
JSON_ADMIN = {**ADMIN, "content-type": "application/json"}
BODY_ROUTES = [("POST", "/v1/accounts"), ("POST", "/v1/accounts/batch"), ("POST", "/v1/labels"),
               ("POST", "/v1/identifiers/card/tok-1/benign"), ("POST", "/v1/sweeps"), ("GET", "/v1/rings")]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with running_app(tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("edge")
    api = ApiServer({"RINGFENCE_DATA_DIR": str(tmp), "RINGFENCE_HEADER_TIMEOUT_S": "1",
                     "RINGFENCE_BODY_TIMEOUT_S": "1"}, tmp).wait_ready()
    yield api
    api.stop()


def test_a_trailing_slash_is_a_404_in_the_error_shape_never_a_redirect(client: TestClient) -> None:
    for path in ("/v1/rings/", "/v1/accounts/", "/v1/accounts/x/subgraph/"):
        response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert_error(response, 404, "not_found")
        assert "location" not in response.headers


def test_every_answer_carries_nosniff_and_v1_answers_no_store(server: ApiServer) -> None:
    for path, headers in (("/v1/rings", {}), ("/v1/rings", auth("investigate")), ("/v1/rings/", {}),
                          ("/healthz", {}), ("/docs", {})):
        response = httpx.get(server.url + path, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "server" not in response.headers, path
        if path.startswith("/v1"):
            assert response.headers["cache-control"] == "no-store", path


def test_docs_load_their_assets_from_the_package_with_the_recorded_hashes(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
    vendor = (ASSETS / "VENDOR.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        asset = client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200
        assert hashlib.sha256(asset.content).hexdigest() in vendor, name
    assert_error(client.get("/docs/assets/..%2Fapp.py"), 404, "not_found")


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_half_sent_headers_and_bodies_are_closed(server: ApiServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    # Headers that never finish: the server closes the connection (the socket's own timeout,
    # 20 s, would raise instead).
    with socket.create_connection((LOOPBACK, port), timeout=20) as sock:
        sock.sendall(b"GET /v1/rings HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert _read_until_closed(sock) == b""
    # A connection that sends nothing at all
    with socket.create_connection((LOOPBACK, port), timeout=20) as sock:
        assert _read_until_closed(sock) == b""
    # A body that stops half-way: answered in the error shape, then closed
    with socket.create_connection((LOOPBACK, port), timeout=20) as sock:
        sock.sendall(b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"id\": ")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400") and b"request_timeout" in answer


def test_failed_authentication_is_throttled_per_address(tmp_path: Path) -> None:
    with running_app(tmp_path, auth_failures_per_s=0.001, auth_failures_burst=5) as client:
        codes = [client.get("/v1/rings", headers={"Authorization": f"Bearer guess-{n}"}).status_code
                 for n in range(8)]
        assert codes == [401] * 5 + [429] * 3
        throttled = client.get("/v1/rings", headers=auth("investigate"))
        error = assert_error(throttled, 429, "rate_limited")
        assert "address" in error["message"] and int(throttled.headers["retry-after"]) > 0


def test_json_nested_too_deep_is_malformed_on_every_route_with_a_body(client: TestClient) -> None:
    for depth in (33, 400, 1024, 100_000):
        for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth, b"[" * depth):
            for method, path in BODY_ROUTES:
                response = client.request(method, path, content=raw, headers=JSON_ADMIN)
                assert_error(response, 400, "malformed_json")
    # what the routes take still passes
    deep_enough = {"accounts": [account_json("a", ("card", "tok-a"))]}
    assert client.post("/v1/accounts/batch", json=deep_enough, headers=ADMIN).status_code == 200


def test_integers_beyond_64_bits_are_stored_exactly_on_every_road(client: TestClient) -> None:
    # given attributes orjson alone would read as floats, on the fast road, on the usual road (a
    # `\\u` escape sends a body there) and in a batch
    values = {"big": 2**70 + 1, "negative": -(2**64) - 3, "edge": 2**64, "x": 0.5}
    bodies = {"fast": json.dumps(account_json("big-fast", **values)),
              "usual": json.dumps(account_json("big-usual", **values, note="\u00e9"), ensure_ascii=True),
              "batch": json.dumps({"accounts": [account_json("big-batch", **values)]})}
    assert "\\u00e9" in bodies["usual"]
    for road, raw in bodies.items():
        path = "/v1/accounts/batch" if road == "batch" else "/v1/accounts"
        assert client.post(path, content=raw.encode(), headers=JSON_ADMIN).status_code in (200, 201), road
        # then each reads back as sent, type for type
        got = client.get(f"/v1/accounts/big-{road}", headers=ADMIN).json()["attributes"]
        assert {k: (got[k], type(got[k])) for k in values} == {k: (v, type(v)) for k, v in values.items()}, road


def test_forged_cursors_are_refused_and_issued_ones_walk(client: TestClient, tmp_path: Path) -> None:
    client.post("/v1/accounts/batch", json={"accounts": [account_json(f"a{n}") for n in range(5)]}, headers=ADMIN)
    forged = [cursors.encode(s="", r=2.0, i=""), cursors.encode(s="made-up-sweep", r=0.5, i="a1"),
              cursors.encode(r=2**63, i="a"), cursors.encode(i=1), "e30", "!!", "x." + "A" * 22,
              cursors.encode(s={"a": [[[]]]}, i="x")]
    other_secret = CursorSeal(make_settings(tmp_path, cursor_secret="another"))
    forged.append(other_secret.seal(cursors.encode(s="", r=2.0, i="")) or "")
    page = client.get("/v1/accounts?order=id&limit=2", headers=ADMIN).json()
    issued = page["next_cursor"]
    forged += [issued[:-1] + ("A" if issued[-1] != "A" else "B"), issued.split(".")[0], issued + "."]
    for cursor in forged:
        for path in ("/v1/accounts", "/v1/rings"):
            assert_error(client.get(path, params={"cursor": cursor}, headers=ADMIN), 400, "invalid_cursor")
    seen = [a["id"] for a in page["data"]]
    while issued:
        page = client.get("/v1/accounts", params={"order": "id", "limit": 2, "cursor": issued}, headers=ADMIN).json()
        seen += [a["id"] for a in page["data"]]
        issued = page["next_cursor"]
    assert seen == [f"a{n}" for n in range(5)]


def test_a_500_is_one_bounded_line_with_its_request_id(
    client: TestClient, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    def broken(*_: object) -> None:
        raise RuntimeError("x" * 100_000)  # a bug whose message is huge (and could quote input)

    client.app.state.store.get_ring = broken  # type: ignore[attr-defined]
    capfd.readouterr()
    response = client.get("/v1/rings/r1", headers={**ADMIN, "X-Request-ID": "req-500"})
    assert_error(response, 500, "internal")
    errors = [line for line in capfd.readouterr().err.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1 and len(errors[0]) < 600, errors
    assert json.loads(errors[0])["request_id"] == "req-500" and "xxxx" not in errors[0]


def test_responses_on_hub_shaped_data_are_capped_and_say_so(client: TestClient) -> None:
    # given 400 accounts sharing 256 identifiers (102,400 links)
    hubs = [("device", f"hub-{n}") for n in range(256)]
    for start in (0, 200):
        batch = {"accounts": [account_json(f"acc-{n:04d}", *hubs) for n in range(start, start + 200)]}
        assert client.post("/v1/accounts/batch", json=batch, headers=ADMIN).status_code == 200
    # when
    sub = client.get("/v1/accounts/acc-0000/subgraph?hops=3&limit=1000", headers=ADMIN)
    page = client.get("/v1/accounts?order=id&limit=1000", headers=ADMIN)
    # then
    assert sub.status_code == 200 and len(sub.content) < 5_000_000 and sub.json()["truncated"] is True
    assert page.status_code == 200 and len(page.content) < 5_000_000
    body = page.json()
    assert body["truncated"] is True and 0 < len(body["data"]) < 400 and body["next_cursor"]
    # the walk still returns every account exactly once
    ids, cursor = [a["id"] for a in body["data"]], body["next_cursor"]
    while cursor:
        body = client.get("/v1/accounts", params={"order": "id", "limit": 1000, "cursor": cursor}, headers=ADMIN).json()
        ids, cursor = ids + [a["id"] for a in body["data"]], body["next_cursor"]
    assert ids == [f"acc-{n:04d}" for n in range(400)]
