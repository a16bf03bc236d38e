"""The abuse suite (issue #14): what an attacker and a careless client tried, against a real
server (`ringfence serve`), per category. Prints tried / handled / wrong; wrong must be 0."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import torch

from ringfence.gnn.registry import META, WEIGHTS, Registry
from ringfence.graph import cursor as cursors
from tests.support.builders import account_json
from tests.support.launchers import LOOPBACK, ApiServer
from tests.support.settings import ADMIN_KEY, SCORE_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SCORE = {"Authorization": f"Bearer {SCORE_KEY}"}
DIGITS = ["0", "\uff10", "\u0660", "\u0966", "\U0001d7ce", "\u09e6", "\u0e50"]  # zeros of 7 digit sets
SEPARATORS = ["", " ", "-", ".", "_", "/", "\t", "\u00a0", "\u2013", "  "]
PAN = "4111111111111111"


@dataclass
class Tally:
    tried: int = 0
    handled: int = 0
    wrong: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        self.tried += 1
        if ok:
            self.handled += 1
        else:
            self.wrong.append(what)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("abuse")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ApiServer]:
    tmp = data_dir
    api = ApiServer({"RINGFENCE_DATA_DIR": str(tmp), "RINGFENCE_API_KEYS": f"{SCORE_KEY}:score,{ADMIN_KEY}:admin",
                     "RINGFENCE_HEADER_TIMEOUT_S": "1", "RINGFENCE_BODY_TIMEOUT_S": "1",
                     "RINGFENCE_AUTH_FAILURES_PER_S": "1", "RINGFENCE_AUTH_FAILURES_BURST": "30"}, tmp).wait_ready()
    yield api
    api.stop()


def _error(response: httpx.Response, status: int, code: str) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return response.status_code == status and set(body) == {"error"} and body["error"]["code"] == code


def written(zero: str, sep: str) -> str:
    return "".join((sep if i and i % 4 == 0 else "") + chr(ord(zero) + int(d)) for i, d in enumerate(PAN))


def card_numbers(c: httpx.Client, t: Tally) -> None:
    for zero in DIGITS:
        for sep in SEPARATORS:
            pan = written(zero, sep)
            for method, url, body in (
                ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": pan}}),
                ("POST", "/v1/accounts", {"id": "x", "attributes": {pan: 1}}),
                ("POST", "/v1/labels", {"labels": [{"account_id": "a", "label": "fraud", "source": pan}]}),
                ("GET", "/v1/accounts", None),
            ):
                params = {pan: "1"} if method == "GET" else None
                r = c.request(method, url, json=body, params=params, headers=ADMIN)
                echoed = pan in r.text or PAN in r.text
                t.check(_error(r, 422, "pan_not_allowed") and not echoed, f"{url} {pan!r}")
    numbers = (f'{{"id": "x", "attributes": {{"k": {PAN}.5}}}}',
               '{"id": "x", "attributes": {"k": 4.111111111111111e15}}')
    for raw in numbers:
        r = c.post("/v1/accounts", content=raw, headers={**ADMIN, "content-type": "application/json"})
        t.check(_error(r, 422, "pan_not_allowed"), raw)


def fivehundreds(c: httpx.Client, t: Tally) -> None:
    for depth in (33, 400, 1024, 5000):
        for raw in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            for url in ("/v1/accounts", "/v1/accounts/batch", "/v1/labels", "/v1/sweeps"):
                r = c.post(url, content=raw, headers={**ADMIN, "content-type": "application/json"})
                t.check(_error(r, 400, "malformed_json"), f"depth {depth} {url}")
    forged = [cursors.encode(s="", r=2.0, i=""), cursors.encode(r=2**63, i="a"), cursors.encode(i=1), "e30",
              cursors.encode(s="made-up", r=0.5, i="a"), "!!", "a.b", cursors.encode(s={"a": [[[[]]]]}, i="x")]
    for cursor in forged:
        for url in ("/v1/accounts", "/v1/rings"):
            t.check(_error(c.get(url, params={"cursor": cursor}, headers=ADMIN), 400, "invalid_cursor"), cursor)


def edge(c: httpx.Client, t: Tally) -> None:
    for path in ("/v1/rings/", "/v1/accounts/", "/v1/sweeps/"):
        for headers in ({}, {"Host": "evil.example"}, ADMIN):
            r = c.get(path, headers=headers)
            t.check(_error(r, 404, "not_found") and "location" not in r.headers, f"{path} {headers}")
    for path in ("/v1/rings", "/v1/accounts/x", "/healthz", "/docs", "/openapi.json"):
        r = c.get(path, headers=ADMIN)
        ok = r.headers.get("x-content-type-options") == "nosniff" and "server" not in r.headers
        t.check(ok and (not path.startswith("/v1") or r.headers.get("cache-control") == "no-store"), path)
    docs = c.get("/docs").text
    t.check("cdn" not in docs.lower() and "/docs/assets/swagger-ui-bundle.js" in docs, "/docs assets")


def slow_requests(server: ApiServer, t: Tally) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    socks = []
    for n in range(20):
        s = socket.create_connection((LOOPBACK, port), timeout=20)
        s.sendall(b"GET /v1/rings HTTP/1.1\r\nHost: x\r\n" if n % 2 else
                  b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        socks.append(s)
    for n, s in enumerate(socks):
        received = b""
        try:
            while chunk := s.recv(4096):
                received += chunk
            t.check(received == b"" if n % 2 else b"request_timeout" in received, f"slow request {n}")
        except TimeoutError:
            t.check(False, f"slow request {n} still open")
        finally:
            s.close()


def authentication(c: httpx.Client, t: Tally) -> None:
    # without the scope: never a 2xx nor a 5xx
    for method, url in (("POST", "/v1/sweeps"), ("GET", "/v1/rings"), ("POST", "/v1/models/m1/activate"),
                        ("GET", "/v1/jobs/j1"), ("POST", "/v1/labels")):
        r = c.request(method, url, headers=SCORE, json={})
        t.check(_error(r, 403, "forbidden"), f"{method} {url} with score")
    # key guessing: 401 until the address's budget is spent, then 429 before any key is looked at
    codes = [c.get("/v1/rings", headers={"Authorization": f"Bearer guess-{n}"}).status_code for n in range(60)]
    t.check(set(codes) <= {401, 429} and codes.count(429) >= 25, f"guesses: {sorted(set(codes))}")
    t.check(c.get("/v1/rings", headers=ADMIN).status_code == 429, "a throttled address, even with a good key")


def model_files(c: httpx.Client, data_dir: Path, t: Tally) -> None:
    """Versions that are not what training wrote: activation refuses every one (409), and the
    service keeps scoring with what it had."""
    registry = Registry(data_dir / "models", probe=None)
    meta = {"kind": "gnn", "config": {"hidden": 4}, "metrics": {}}
    fake = registry.save({"w": torch.zeros(2, 2)}, meta)  # signed, but no model: the probe refuses it
    tampered = []
    for edit in ("weights", "kind", "extra", "manifest"):
        version = registry.save({"w": torch.zeros(2, 2)}, meta)
        directory = data_dir / "models" / version
        if edit == "weights":
            (directory / WEIGHTS).write_bytes((directory / WEIGHTS).read_bytes()[:-1] + b"\x01")
        elif edit == "kind":
            (directory / META).write_text((directory / META).read_text().replace('"gnn"', '"hybrid"'))
        elif edit == "extra":
            (directory / "extra.txt").write_text("x")
        else:
            (directory / "MANIFEST.json").unlink()
        tampered.append(version)
    for version in [fake, *tampered]:
        r = c.post(f"/v1/models/{version}/activate", headers=ADMIN)
        t.check(_error(r, 409, "model_rejected") and registry.active_version() is None, f"activate {version}")
    r = c.get("/v1/accounts/a/risk?refresh=true", headers=ADMIN)
    t.check(r.status_code == 200 and r.json()["model_version"].startswith("heuristic"), "scores still served")


def hub_shaped(c: httpx.Client, t: Tally) -> None:
    """300 accounts sharing 100 identifiers: every subgraph and page answer stays under 5 MB
    and says it was cut; walking the pages still returns every account once."""
    hubs = [("device", f"hub-{n}") for n in range(100)]
    for start in (0, 150):
        batch = {"accounts": [account_json(f"hub-acc-{n:03d}", *hubs) for n in range(start, start + 150)]}
        c.post("/v1/accounts/batch", json=batch, headers=ADMIN).raise_for_status()
    for hops in (1, 2, 3):
        r = c.get(f"/v1/accounts/hub-acc-000/subgraph?hops={hops}&limit=1000", headers=ADMIN)
        t.check(r.status_code == 200 and len(r.content) < 5_000_000 and r.json()["truncated"] is True
                and len(r.json()["edges"]) <= 20_000, f"subgraph hops={hops}")
    for fmt in ("graphml", "gexf", "json"):
        r = c.get(f"/v1/accounts/hub-acc-000/subgraph?hops=2&format={fmt}", headers=ADMIN)
        t.check(r.status_code == 200 and len(r.content) < 5_000_000, f"subgraph as {fmt}")
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        r = c.get("/v1/accounts", params={"order": "id", "limit": 1000, **({"cursor": cursor} if cursor else {})},
                  headers=ADMIN)
        t.check(r.status_code == 200 and len(r.content) < 5_000_000, "an account page")
        seen += [a["id"] for a in r.json()["data"] if a["id"].startswith("hub-acc-")]
        if not (cursor := r.json()["next_cursor"]):
            break
    t.check(seen == [f"hub-acc-{n:03d}" for n in range(300)], "the walk returns every account once")


def test_abuse_suite(server: ApiServer, data_dir: Path) -> None:
    categories: dict[str, Callable[[httpx.Client, Tally], None]] = {
        "card numbers (digit sets x separators, numbers)": card_numbers,
        "500s (deep JSON, forged cursors)": fivehundreds,
        "HTTP edge (redirects, headers, docs)": edge,
        "slow and half-sent requests": lambda c, t: slow_requests(server, t),
        "model files (tampered, unscorable)": lambda c, t: model_files(c, data_dir, t),
        "hub-shaped data (responses under 5 MB, truncated)": hub_shaped,
        "authentication (scopes, guessing)": authentication,  # last: it spends the address's budget
    }
    tallies: dict[str, Tally] = {}
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        client.post("/v1/accounts?score=none", json=account_json("a"), headers=ADMIN)
        for name, run in categories.items():
            tallies[name] = Tally()
            run(client, tallies[name])
    print("\n[abuse] category: tried / handled / wrong")
    for name, tally in tallies.items():
        print(f"[abuse] {name}: {tally.tried} / {tally.handled} / {len(tally.wrong)}")
    log = Path(server.log).read_text(errors="replace")
    assert "Traceback" not in log and PAN not in log and json.dumps(PAN) not in log
    assert {name: tally.wrong[:3] for name, tally in tallies.items() if tally.wrong} == {}
