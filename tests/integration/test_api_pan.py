"""Raw card numbers: refused in every field of every request, never stored, never logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfence.api.logging import redact
from ringfence.core.cards import luhn_ok
from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, TestClient, assert_error, running_app
from tests.support.settings import ADMIN, make_settings

pytestmark = TORCH_SPARSE
PANS = ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004", "4222222222222", "6011000990139424",
        "3566002020360505123"[:16] + "0", "378282246310005"]
PANS = [p for p in PANS if luhn_ok(re.sub(r"[ -]", "", p))]
Stored = Callable[[], list[tuple[str, bytes]]]  # what the store holds, as (name, bytes)
RUN = re.compile(rb"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")



def bodies(pan: str) -> list[tuple[str, str, Any]]:
    """(method, url, json) with the number in one place each."""
    embedded = f"card {pan} here"
    label = {"account_id": "known", "label": "fraud", "source": "chargeback"}
    return [
        ("POST", "/v1/accounts", {"id": pan.replace(" ", "").replace("-", "")}),
        ("POST", "/v1/accounts", account_json("x", ("card", pan.replace(" ", "").replace("-", "")))),
        ("POST", "/v1/accounts", account_json("x", ("card", f"tok-{pan.replace(' ', '-')}"))),
        ("POST", "/v1/accounts", {"id": "x", "attributes": {pan: "v"}}),
        ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": pan}}),
        ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": embedded}}),
        ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": int(re.sub(r"[ -]", "", pan))}}),
        ("POST", "/v1/accounts", {"id": "x", pan: 1}),
        ("POST", "/v1/accounts", {"id": "x", "created_at": pan}),
        ("POST", "/v1/accounts/batch", {"accounts": [account_json("ok"), {"id": "x", "attributes": {"k": embedded}}]}),
        ("POST", "/v1/labels", {"labels": [{**label, "source": embedded}]}),
        ("POST", "/v1/labels", {"labels": [{**label, "note": embedded}]}),
        ("POST", "/v1/labels", {"labels": [{**label, "account_id": re.sub(r"[ -]", "", pan)}]}),
        ("POST", "/v1/labels", {"labels": [{**label, "label": pan}]}),
        # nested attribute values (not allowed at all, and a card number inside is still one)
        ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": [embedded]}}),
        ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": {"deep": {"er": pan}}}}),
        ("POST", "/v1/accounts", {"id": "x", "attributes": {"k": float(re.sub(r"[ -]", "", pan))}}),
        ("POST", "/v1/accounts", {"id": "x", "links": [{"type": "card", "id": "t", "seen_at": pan}]}),
        ("POST", "/v1/accounts", {"id": "x", "links": [{"type": embedded, "id": "t"}]}),
        ("POST", "/v1/accounts", {"id": "x", "links": [{"type": "card", "id": "t", embedded: 1}]}),
        ("POST", "/v1/accounts/batch", {"accounts": [account_json("ok")], "note": embedded}),
        ("POST", "/v1/identifiers/card/tok-1/benign", {"benign": embedded}),
        ("POST", "/v1/identifiers/card/tok-1/benign", {"benign": True, "why": embedded}),
        # job parameters and bodies on routes that take none
        ("POST", "/v1/sweeps", {"reason": embedded}),
        ("POST", "/v1/models/train", {"params": {"note": embedded}}),
        ("POST", "/v1/models/m1/activate", {"note": embedded}),
        ("GET", "/v1/rings", {"filter": embedded}),
        ("GET", "/v1/accounts/known", {"filter": embedded}),
    ]


def urls(pan: str) -> list[tuple[str, str]]:
    digits = re.sub(r"[ -]", "", pan)
    q = pan.replace(" ", "%20")
    return [
        ("GET", f"/v1/accounts/{digits}"), ("GET", f"/v1/accounts/{digits}/risk"),
        ("GET", f"/v1/accounts/{digits}/subgraph"), ("GET", f"/v1/rings/{digits}"), ("GET", f"/v1/jobs/{digits}"),
        ("POST", f"/v1/models/{digits}/activate"), ("POST", f"/v1/identifiers/card/{digits}/benign"),
        ("GET", f"/v1/accounts?cursor={q}"), ("GET", f"/v1/accounts?label={q}"), ("GET", f"/v1/rings?x={q}"),
        ("GET", f"/v1/accounts/known/subgraph?limit={q}"), ("GET", f"/v1/accounts?{q}=1"),
        ("GET", f"/v1/accounts/{q}"), ("GET", f"/v1/accounts?min_risk={digits}.5"),
        ("GET", f"/v1/accounts?order={q}"), ("GET", f"/v1/accounts/known/subgraph?hops={q}"),
        ("GET", f"/v1/accounts/known/risk?refresh={q}"), ("POST", f"/v1/accounts?score={q}"),
        ("POST", f"/v1/sweeps?dry_run={q}"), ("POST", f"/v1/identifiers/{q}/tok-1/benign"),
    ]


@pytest.fixture(params=["sqlite", "neo4j"])
def pan_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Stored]]:
    """A client on each backend, and what its store holds as (name, bytes) once the app is done."""
    if request.param == "sqlite":
        with running_app(tmp_path) as c:
            yield c, lambda: [(p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()]
        return
    neo = request.getfixturevalue("_neo4j_store")
    neo.reset()
    url = request.getfixturevalue("neo4j_url")

    def dump() -> list[tuple[str, bytes]]:
        # Every property of every node and relationship (a test-side read, not product Cypher).
        from neo4j import GraphDatabase

        from ringfence.graph.factory import neo4j_config

        settings = neo4j_config(make_settings(tmp_path, graph_url=url))
        with GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password)) as driver:
            nodes, _, _ = driver.execute_query("MATCH (n) RETURN labels(n) AS l, properties(n) AS p",
                                              database_=settings.database)
            rels, _, _ = driver.execute_query("MATCH ()-[r]->() RETURN type(r) AS l, properties(r) AS p",
                                             database_=settings.database)
        files = [(p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()]
        return [*files, ("neo4j", "\n".join(f"{r['l']} {r['p']}" for r in [*nodes, *rels]).encode())]

    with running_app(tmp_path, graph_url=url) as c:
        yield c, dump


def test_pan_refused_everywhere_never_stored_or_logged(
    pan_client: tuple[TestClient, Stored],
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    client, stored = pan_client
    caplog.set_level(logging.DEBUG)
    client.post("/v1/accounts?score=sync", json=account_json("known", ("card", "tok-known")), headers=ADMIN)
    for pan in PANS:
        for method, url, body in bodies(pan):
            response = client.request(method, url, json=body, headers=ADMIN)
            error = assert_error(response, 422, "pan_not_allowed")
            assert redact(response.text) == response.text, (url, body, response.text)
            assert "'input'" not in str(error.get("details"))
        for method, url in urls(pan):
            response = client.request(method, url, headers=ADMIN)
            assert_error(response, 422, "pan_not_allowed")
            assert redact(response.text) == response.text
        # a request id shaped like a card number is replaced, not echoed
        echoed = client.get("/healthz", headers={"X-Request-ID": re.sub(r"[ -]", "", pan)}).headers["x-request-id"]
        assert redact(echoed) == echoed
    assert client.app.state.store.count_accounts() == 1  # type: ignore[attr-defined]
    # nothing Luhn-valid in the database files or the logs
    blobs = stored()
    # The server's records (the test client's own httpx logger prints the URLs it requested).
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logs = "\n".join(logging.Formatter().format(r) for r in server) + capfd.readouterr().err
    assert logs and any(b"tok-known" in blob for _, blob in blobs)  # the search sees stored data
    for name, blob in [*blobs, ("logs", logs.encode())]:
        for match in RUN.finditer(blob):
            context = blob[max(0, match.start() - 300): match.end() + 100]
            assert not luhn_ok(re.sub(rb"[ -]", b"", match.group()).decode()), (name, context)
