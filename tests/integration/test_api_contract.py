"""One test (or a few) per endpoint of the contract: the happy path and each documented error."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ringfence.api.app import create_app
from ringfence.core.clock import utcnow
from ringfence.core.errors import StoreUnavailable
from ringfence.graph.model import IdentifierKey
from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, TestClient, assert_error, wait_job
from tests.support.settings import ADMIN, KEYS, auth, make_settings

pytestmark = TORCH_SPARSE


SCORE = auth("score")


def small_world(client: TestClient) -> None:
    """Two rings of accounts sharing devices and cards, plus loners; a few labels each way."""
    accounts = []
    for ring in range(2):
        for n in range(5):
            accounts.append(account_json(f"r{ring}-{n}", ("device", f"dev-r{ring}"), ("card", f"tok-r{ring}-{n % 2}"),
                                    country="DE", age=n))
    accounts += [account_json(f"solo-{n}", ("device", f"dev-solo-{n}"), country="FR") for n in range(10)]
    assert client.post("/v1/accounts/batch", json={"accounts": accounts}, headers=ADMIN).status_code == 200
    labels = [{"account_id": f"r0-{n}", "label": "fraud", "source": "chargeback"} for n in range(3)]
    labels += [{"account_id": f"solo-{n}", "label": "legit", "source": "kyc"} for n in range(3)]
    assert client.post("/v1/labels", json={"labels": labels}, headers=ADMIN).json() == {"applied": 6}


def sweep(client: TestClient) -> dict[str, Any]:
    response = client.post("/v1/sweeps", headers=ADMIN)
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


# -- POST /v1/accounts ---------------------------------------------------------------------


def test_post_account_sync_scores_from_the_graph_including_it(client: TestClient) -> None:
    client.post("/v1/accounts?score=none", json=account_json("a0", ("device", "d1")), headers=SCORE)
    response = client.post("/v1/accounts?score=sync", json=account_json("a1", ("device", "d1"), country="DE"),
                           headers=SCORE)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"account", "risk", "job_id"} and body["job_id"] is None
    acc, risk = body["account"], body["risk"]
    assert set(acc) >= {"id", "created_at", "attributes", "links", "label", "risk", "risk_scored_at",
                        "model_version", "ring_id"}
    assert acc["id"] == "a1" and acc["attributes"] == {"country": "DE"} and acc["created_at"].endswith("Z")
    assert [(x["type"], x["id"]) for x in acc["links"]] == [("device", "d1")]
    assert set(risk) == {"account_id", "risk", "model_version", "scored_at", "ring", "reasons"}
    assert 0 <= risk["risk"] <= 1 and risk["model_version"].startswith("heuristic") and risk["scored_at"].endswith("Z")
    reason = risk["reasons"][0]
    assert reason["identifier"] == {"type": "device", "id": "d1"} and reason["shared_with"] == 1
    assert {"flagged_accounts", "ring_ids", "weight"} <= set(reason)
    weights = [r["weight"] for r in risk["reasons"]]
    assert weights == sorted(weights, reverse=True)


def test_post_account_sync_answers_the_stored_account_with_its_ring_and_settles_the_request(
    client: TestClient,
) -> None:
    # given a swept world, and a ring member posted again with a new link and attribute
    small_world(client)
    sweep(client)
    inv = auth("investigate")
    ring_id = client.get("/v1/rings", headers=inv).json()["data"][0]["id"]
    member = client.get(f"/v1/rings/{ring_id}", headers=inv).json()["members"][0]["account_id"]
    before = client.get(f"/v1/accounts/{member}", headers=inv).json()
    # when
    response = client.post("/v1/accounts?score=sync", json=account_json(member, ("card", "tok-new"), tier="gold"),
                           headers=SCORE)
    # then: the answer is the stored state, merged with the earlier upsert, as a read returns it
    assert response.status_code == 201
    body = response.json()
    assert body["account"] == client.get(f"/v1/accounts/{member}", headers=inv).json()
    assert body["account"]["attributes"] == {**before["attributes"], "tier": "gold"}
    assert {(x["type"], x["id"]) for x in body["account"]["links"]} == {
        *((x["type"], x["id"]) for x in before["links"]), ("card", "tok-new")}
    assert len(before["links"]) == 2 and body["account"]["ring_id"] == ring_id
    # and the risk names the current ring as the ring endpoint summarises it
    ring = client.get(f"/v1/rings/{ring_id}", headers=inv).json()
    assert body["risk"]["ring"] == {"id": ring_id, "risk": ring["risk"], "size": ring["size"]}
    # and the score answered the request stored with the account: nothing is left to rescore
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.pending_scores(utcnow() + timedelta(seconds=5), 10) == []
    assert store.get_score(member).risk == body["risk"]["risk"]


def test_post_account_async_and_none(client: TestClient) -> None:
    body = client.post("/v1/accounts", json=account_json("a1"), headers=SCORE).json()
    assert isinstance(body["job_id"], str) and body["risk"] is None
    # embedded mode: the worker's task function runs in-process and stores the score
    deadline = time.monotonic() + 60
    while client.get("/v1/accounts/a1", headers=SCORE).json()["risk"] is None:
        assert time.monotonic() < deadline, "the async score never landed"
        time.sleep(0.05)
    body = client.post("/v1/accounts?score=none", json=account_json("a2"), headers=SCORE).json()
    assert body["job_id"] is None and body["risk"] is None


@pytest.mark.parametrize("body", [
    {"id": "a b"}, {"id": ""}, {"id": "x" * 129}, {"id": "a", "extra": 1}, {"links": []},
    {"id": "a", "links": [{"type": "phone", "id": "p"}]}, {"id": "a", "links": [{"type": "card", "id": "c", "x": 1}]},
    {"id": "a", "links": [{"type": "card", "id": f"c{n}"} for n in range(257)]},
    {"id": "a", "attributes": {f"k{n}": n for n in range(65)}}, {"id": "a", "attributes": {"k": [1]}},
    {"id": "a", "attributes": {"k": None}}, {"id": "a", "created_at": "2026-11-28T10:00:00"},
    {"id": "a", "created_at": 1700000000}, {"id": "a", "created_at": "yesterday"},
])
def test_post_account_invalid_is_422(client: TestClient, body: dict[str, Any]) -> None:
    error = assert_error(client.post("/v1/accounts", json=body, headers=SCORE), 422, "invalid_input")
    assert all("input" not in d for d in error["details"])


def test_post_account_bad_query_and_malformed_json(client: TestClient) -> None:
    assert_error(client.post("/v1/accounts?score=later", json=account_json("a"), headers=SCORE), 422, "invalid_input")
    response = client.post("/v1/accounts", content=b"{not json", headers={**SCORE, "Content-Type": "application/json"})
    assert_error(response, 400, "malformed_json")


# -- POST /v1/accounts/batch ---------------------------------------------------------------


def test_batch_counts_and_limits(client: TestClient) -> None:
    body = {"accounts": [account_json(f"b{n}", ("card", f"t{n}"), ("device", "shared")) for n in range(50)]}
    assert client.post("/v1/accounts/batch", json=body, headers=SCORE).json() == {"accounts": 50, "links": 100}
    too_many = {"accounts": [{"id": f"x{n}"} for n in range(10_001)]}
    assert_error(client.post("/v1/accounts/batch", json=too_many, headers=SCORE), 422, "invalid_input")
    links = [{"type": "card", "id": f"c{n}"} for n in range(256)]
    heavy = {"accounts": [{"id": f"h{n}", "links": links} for n in range(391)]}  # 100,096 links
    assert_error(client.post("/v1/accounts/batch", json=heavy, headers=SCORE), 422, "invalid_input")
    assert client.get("/v1/accounts/h0", headers=SCORE).status_code == 404


# -- GET /v1/accounts/{id}, /risk, list, /subgraph -----------------------------------------


def test_get_account(client: TestClient) -> None:
    client.post("/v1/accounts?score=none", json=account_json("a1", ("card", "tok1"), vip=True), headers=SCORE)
    got = client.get("/v1/accounts/a1", headers=auth("investigate")).json()
    assert got["id"] == "a1" and got["attributes"] == {"vip": True} and got["label"] is None
    assert got["risk"] is None and got["risk_scored_at"] is None and got["ring_id"] is None
    assert_error(client.get("/v1/accounts/nobody", headers=SCORE), 404, "not_found")
    assert_error(client.get("/v1/accounts/bad%20id", headers=SCORE), 422, "invalid_input")


def test_risk_computed_when_missing_and_refreshed(client: TestClient) -> None:
    client.post("/v1/accounts?score=none", json=account_json("a1", ("card", "tok1")), headers=SCORE)
    first = client.get("/v1/accounts/a1/risk", headers=SCORE).json()
    again = client.get("/v1/accounts/a1/risk", headers=SCORE).json()
    assert again == first  # the stored score
    time.sleep(0.01)
    fresh = client.get("/v1/accounts/a1/risk?refresh=true", headers=SCORE).json()
    assert fresh["scored_at"] > first["scored_at"]
    assert_error(client.get("/v1/accounts/ghost/risk", headers=SCORE), 404, "not_found")
    assert_error(client.get("/v1/accounts/a1/risk?refresh=maybe", headers=SCORE), 422, "invalid_input")


def test_list_accounts_orders_and_filters(client: TestClient) -> None:
    small_world(client)
    inv = auth("investigate")
    ids = [a["id"] for a in client.get("/v1/accounts?order=id&limit=1000", headers=inv).json()["data"]]
    assert ids == sorted(ids) and len(ids) == 20
    fraud = client.get("/v1/accounts?label=fraud", headers=inv).json()["data"]
    assert {a["id"] for a in fraud} == {"r0-0", "r0-1", "r0-2"}
    sweep(client)
    ranked = client.get("/v1/accounts?order=risk_desc&limit=1000", headers=inv).json()["data"]
    risks = [a["risk"] for a in ranked]
    assert risks == sorted(risks, reverse=True)
    high = client.get("/v1/accounts?min_risk=0.5", headers=inv).json()["data"]
    assert all(a["risk"] >= 0.5 for a in high)
    for query in ("limit=0", "limit=1001", "order=name", "label=maybe", "min_risk=2"):
        assert_error(client.get(f"/v1/accounts?{query}", headers=inv), 422, "invalid_input")
    assert_error(client.get("/v1/accounts?cursor=%21%21", headers=inv), 400, "invalid_cursor")


def test_subgraph(client: TestClient) -> None:
    small_world(client)
    inv = auth("investigate")
    g = client.get("/v1/accounts/r0-0/subgraph?hops=1", headers=inv).json()
    kinds = {(n["kind"], n["id"]) for n in g["nodes"]}
    assert ("account", "r0-0") in kinds and ("device", "dev-r0") in kinds and ("card", "tok-r0-0") in kinds
    assert {n["id"] for n in g["nodes"] if n["kind"] == "account"} == {f"r0-{n}" for n in range(5)}
    assert {"source": "r0-0", "target": "dev-r0", "type": "device"} in g["edges"]
    assert g["truncated"] is False
    capped = client.get("/v1/accounts/r0-0/subgraph?hops=2&limit=2", headers=inv).json()
    assert capped["truncated"] is True
    assert any(n.get("capped") for n in capped["nodes"] if n["kind"] == "device")
    assert_error(client.get("/v1/accounts/ghost/subgraph", headers=inv), 404, "not_found")
    for query in ("hops=0", "hops=4", "limit=0"):
        assert_error(client.get(f"/v1/accounts/r0-0/subgraph?{query}", headers=inv), 422, "invalid_input")


# -- labels --------------------------------------------------------------------------------


def test_labels(client: TestClient) -> None:
    client.post("/v1/accounts?score=none", json=account_json("a1"), headers=SCORE)
    lab = auth("label")
    one = {"account_id": "a1", "label": "fraud", "source": "chargeback", "note": "two disputes"}
    assert client.post("/v1/labels", json={"labels": [one]}, headers=lab).json() == {"applied": 1}
    assert client.get("/v1/accounts/a1", headers=SCORE).json()["label"] == "fraud"
    mixed = {"labels": [{**one, "label": "legit"}, {**one, "account_id": "ghost"}]}
    error = assert_error(client.post("/v1/labels", json=mixed, headers=lab), 404, "not_found")
    assert "ghost" in str(error.get("details"))
    assert client.get("/v1/accounts/a1", headers=SCORE).json()["label"] == "fraud"  # nothing applied
    for bad in ({**one, "label": "maybe"}, {**one, "source": ""}, {**one, "extra": 1}, {"account_id": "a1"}):
        assert_error(client.post("/v1/labels", json={"labels": [bad]}, headers=lab), 422, "invalid_input")
    assert_error(client.post("/v1/labels", json={"labels": [one] * 10_001}, headers=lab), 422, "invalid_input")
    history = client.app.state.store.label_history("a1")  # type: ignore[attr-defined]
    assert [e.label for e in history] == ["fraud"]


def test_label_history_and_reasons_for_investigators(client: TestClient) -> None:
    # given an account labelled twice
    client.post("/v1/accounts?score=none", json=account_json("h1", ("device", "dev-h")), headers=SCORE)
    client.post("/v1/accounts?score=none", json=account_json("h2", ("device", "dev-h")), headers=SCORE)
    for label, note in (("fraud", "dispute"), ("legit", None)):
        body = {"labels": [{"account_id": "h1", "label": label, "source": "desk", **({"note": note} if note else {})}]}
        assert client.post("/v1/labels", json=body, headers=auth("label")).status_code == 200
    inv = auth("investigate")
    # then its history reads back oldest first, and an investigator reads its reasons
    history = client.get("/v1/accounts/h1/labels", headers=inv).json()
    assert history["account_id"] == "h1"
    assert [(e["label"], e["source"], e["note"]) for e in history["data"]] == [("fraud", "desk", "dispute"),
                                                                              ("legit", "desk", None)]
    assert history["data"][0]["at"].endswith("Z") and history["data"][0]["at"] <= history["data"][1]["at"]
    assert client.get("/v1/accounts/h2/labels", headers=inv).json() == {"account_id": "h2", "data": []}
    reasons = client.get("/v1/accounts/h2/reasons", headers=inv).json()
    assert reasons["account_id"] == "h2" and 0 <= reasons["risk"] <= 1
    assert [r["identifier"] for r in reasons["reasons"]] == [{"type": "device", "id": "dev-h"}]
    for path in ("/v1/accounts/ghost/labels", "/v1/accounts/ghost/reasons"):
        assert_error(client.get(path, headers=inv), 404, "not_found")
    assert_error(client.get("/v1/accounts/h1/labels", headers=SCORE), 403, "forbidden")


# -- rings, sweeps, jobs ---------------------------------------------------------------------


def test_sweep_then_rings(client: TestClient) -> None:
    small_world(client)
    job = sweep(client)
    assert job["status"] == "succeeded" and job["kind"] == "sweep" and job["finished_at"].endswith("Z")
    assert set(job) >= {"id", "kind", "status", "created_at", "started_at", "finished_at", "result", "error"}
    inv = auth("investigate")
    rings = client.get("/v1/rings", headers=inv).json()
    assert rings["next_cursor"] is None and rings["data"], rings
    risks = [r["risk"] for r in rings["data"]]
    assert risks == sorted(risks, reverse=True)
    summary = rings["data"][0]
    assert set(summary) == {"id", "risk", "size", "created_at", "updated_at", "sweep_id", "case_status", "assignee"}
    ring = client.get(f"/v1/rings/{summary['id']}", headers=inv).json()
    assert {k: ring[k] for k in summary} == summary
    assert len(ring["members"]) == ring["size"]
    assert set(ring["members"][0]) == {"account_id", "risk", "label"}
    assert set(ring["identifiers"][0]) == {"type", "id", "accounts"}
    assert ring["history"][0]["event"] == "created"
    member = ring["members"][0]["account_id"]
    assert client.get(f"/v1/accounts/{member}", headers=inv).json()["ring_id"] == summary["id"]
    risk = client.get(f"/v1/accounts/{member}/risk?refresh=true", headers=SCORE).json()
    assert risk["ring"] == {"id": summary["id"], "risk": summary["risk"], "size": summary["size"]}
    assert_error(client.get("/v1/rings/ghost", headers=inv), 404, "not_found")
    assert_error(client.get("/v1/rings?limit=0", headers=inv), 422, "invalid_input")
    assert_error(client.get("/v1/jobs/ghost", headers=ADMIN), 404, "not_found")


def test_second_sweep_while_one_runs_is_409(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.acquire_lock("sweep", owner="someone-else", ttl_s=60)
    assert_error(client.post("/v1/sweeps", headers=ADMIN), 409, "sweep_running")
    store.release_lock("sweep", "someone-else")
    sweep(client)


def test_concurrent_sweep_posts_start_exactly_one(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = client.app.state.store  # type: ignore[attr-defined]
    store.acquire_lock("hold", owner="x", ttl_s=1)  # warm the store's connection
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: client.post("/v1/sweeps", headers=ADMIN).status_code, range(8)))
    # One starts; the rest are refused while it holds the lock (or start after it finished).
    assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}


# -- models ----------------------------------------------------------------------------------


def test_models_train_list_activate(client: TestClient) -> None:
    assert client.get("/v1/models", headers=ADMIN).json() == {"active": None, "models": []}
    assert_error(client.post("/v1/models/nope/activate", headers=ADMIN), 404, "not_found")
    small_world(client)
    response = client.post("/v1/models/train", headers=ADMIN)
    assert response.status_code == 202 and response.json()["kind"] == "train"
    job = wait_job(client, response.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job
    models = client.get("/v1/models", headers=ADMIN).json()
    version = models["models"][0]["version"]
    assert models["active"] == version and models["models"][0]["created_at"].endswith("Z")
    assert isinstance(models["models"][0]["metrics"], dict)
    assert client.post(f"/v1/models/{version}/activate", headers=ADMIN).json() == {"active": version}
    risk = client.get("/v1/accounts/r0-0/risk?refresh=true", headers=SCORE).json()
    assert risk["model_version"] == version


def test_training_without_labels_fails_the_job(client: TestClient) -> None:
    job = wait_job(client, client.post("/v1/models/train", headers=ADMIN).json()["id"])
    assert job["status"] == "failed" and job["error"]


# -- identifiers -------------------------------------------------------------------------------


def test_benign(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    lab = auth("label")
    assert client.post("/v1/identifiers/device/wifi-1/benign", headers=lab).json() == {
        "type": "device", "id": "wifi-1", "benign": True}
    assert IdentifierKey("device", "wifi-1") in store.benign_identifiers()
    assert client.post("/v1/identifiers/device/wifi-1/benign", json={"benign": False}, headers=lab).status_code == 200
    assert IdentifierKey("device", "wifi-1") not in store.benign_identifiers()
    assert_error(client.post("/v1/identifiers/phone/x/benign", headers=lab), 422, "invalid_input")
    assert_error(client.post("/v1/identifiers/card/x/benign", json={"benign": "yes"}, headers=lab), 422,
                 "invalid_input")
    assert_error(client.post("/v1/identifiers/card/x/benign", json={"benign": True, "x": 1}, headers=lab), 422,
                 "invalid_input")


# -- health, errors, schema -------------------------------------------------------------------


def test_health_and_metrics(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    client.get("/v1/accounts/x", headers=ADMIN)
    text = client.get("/metrics").text
    assert 'ringfence_http_requests_total{method="GET",route="/v1/accounts/{id}",status="404"}' in text
    assert "ringfence_http_request_duration_seconds_bucket" in text and "ringfence_queue_depth" in text

    def down() -> None:
        raise StoreUnavailable("SQLite store does not answer")

    monkeypatch.setattr(client.app.state.store, "ping", down)  # type: ignore[attr-defined]
    assert_error(client.get("/readyz"), 503, "store_unavailable")


def test_broker_down_is_503_and_releases_the_sweep_lock(tmp_path: Any) -> None:
    settings = make_settings(tmp_path, broker_url="redis://127.0.0.1:9/0")
    with TestClient(create_app(settings)) as c:
        assert_error(c.get("/readyz"), 503, "store_unavailable")
        assert_error(c.post("/v1/sweeps", headers=ADMIN), 503, "store_unavailable")
        assert c.app.state.store.acquire_lock("sweep", owner="other", ttl_s=1)  # type: ignore[attr-defined]


def test_routing_errors_and_request_id(client: TestClient) -> None:
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    response = client.delete("/v1/accounts/a1", headers=ADMIN)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_unexpected_error_is_500_without_a_stack_trace(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals at line 42")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom")
    error = assert_error(response, 500, "internal")
    assert "secret" not in response.text and "Traceback" not in response.text and "details" not in error


def test_openapi_and_docs_list_every_contract_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    contract = {
        ("post", "/v1/accounts"), ("post", "/v1/accounts/batch"), ("get", "/v1/accounts/{id}"),
        ("get", "/v1/accounts/{id}/risk"), ("get", "/v1/accounts"), ("get", "/v1/accounts/{id}/subgraph"),
        ("post", "/v1/labels"), ("get", "/v1/rings"), ("get", "/v1/rings/{id}"), ("post", "/v1/sweeps"),
        ("post", "/v1/models/train"), ("get", "/v1/models"), ("post", "/v1/models/{version}/activate"),
        ("get", "/v1/jobs/{id}"), ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"),
        ("post", "/v1/identifiers/{type}/{id}/benign"),
        # contract 1.1 (so far) and 1.2
        ("get", "/v1/whoami"), ("get", "/v1/identifiers/{type}/{id}"),
        ("get", "/v1/accounts/{id}/paths"), ("get", "/v1/rings/{id}/graph"),
        ("put", "/v1/rings/{id}/case"), ("get", "/v1/rings/{id}/case"),  # 1.1 cases; GET is an addition
        # additions for the /ui/ account panel (README): label history, stored risk with reasons
        ("get", "/v1/accounts/{id}/labels"), ("get", "/v1/accounts/{id}/reasons"),
    }
    assert {(m, p) for p, ops in paths.items() for m in ops} == contract
    for path, ops in paths.items():
        for op in ops.values():
            if path.startswith("/v1"):
                assert op["security"] == [{"HTTPBearer": []}]
                # every key may ask who it is: that route alone answers no 403
                assert {"401", "429", "503"} | ({"403"} if path != "/v1/whoami" else set()) <= set(op["responses"])
            for status, response in op["responses"].items():
                if status >= "400":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorResponse"}
    assert client.get("/docs").status_code == 200


def test_a_body_on_a_route_that_takes_none_is_refused(client: TestClient) -> None:
    # Unknown fields are refused everywhere, also where no body is declared at all.
    assert_error(client.post("/v1/sweeps", json={"hops": 9}, headers=ADMIN), 422, "invalid_input")
    assert_error(client.request("GET", "/v1/rings", content=b"[1]", headers=ADMIN), 422, "invalid_input")
    assert client.get("/v1/jobs/ghost", headers=ADMIN).status_code == 404  # guard passed: no body
    # "nothing" as clients send it
    assert client.request("GET", "/v1/rings", content=b" {} ", headers=ADMIN).status_code == 200
    assert client.post("/v1/models/train", json=None, headers=ADMIN).status_code == 202
    assert client.request("POST", "/v1/models/train", content=b"null", headers=ADMIN).status_code == 202


def test_healthz_is_exactly_the_contract(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"store": "ok", "broker": "not_configured",
                                                                    "model": "heuristic"}}


def test_schema_objects_hold_the_contract_fields_and_forbid_others(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    # component -> the contract's fields (additions may follow; none of these may go)
    contract = {
        "LinkIn": {"type", "id", "seen_at"}, "AccountIn": {"id", "created_at", "attributes", "links"},
        "RingRef": {"id", "risk", "size"},
        "Reason": {"identifier", "shared_with", "flagged_accounts", "ring_ids", "weight"},
        "RiskPublic": {"account_id", "risk", "model_version", "scored_at", "ring", "reasons"},
        "AccountPublic": {"id", "created_at", "attributes", "links", "label", "risk", "risk_scored_at",
                          "model_version", "ring_id"},
        "RingSummaryPublic": {"id", "risk", "size", "created_at", "updated_at", "sweep_id"},
        "RingPublic": {"id", "risk", "size", "created_at", "updated_at", "sweep_id", "members", "identifiers",
                       "history"},
        "JobPublic": {"id", "kind", "status", "created_at", "started_at", "finished_at", "result", "error"},
        "AccountCreated": {"account", "risk", "job_id"}, "BatchResult": {"accounts", "links"},
        "LabelIn": {"account_id", "label", "source", "note"}, "LabelsApplied": {"applied"},
        "ModelsPublic": {"active", "models"}, "ActiveModel": {"active"}, "ErrorBody": {"code", "message", "details"},
        "SubgraphPublic": {"nodes", "edges", "truncated"}, "SubgraphEdge": {"source", "target", "type"},
        "SubgraphNode": {"id", "kind", "risk", "label", "ring_id"},
    }
    optional_in = {"LinkIn": {"seen_at"}, "AccountIn": {"created_at", "attributes", "links"},
                   "LabelIn": {"note"}, "ErrorBody": {"details"}, "SubgraphNode": {"risk", "label", "ring_id"}}
    for name, fields in contract.items():
        schema = schemas[name]
        assert fields <= set(schema["properties"]), name
        assert fields - optional_in.get(name, set()) <= set(schema.get("required", [])), name
    for name, schema in schemas.items():
        assert schema.get("additionalProperties") is False, name
    assert schemas["JobPublic"]["properties"]["status"]["enum"] == ["queued", "running", "succeeded", "failed"]
    assert schemas["JobPublic"]["properties"]["kind"]["enum"] == ["sweep", "train"]


def test_paths_and_graph_files_through_the_api(client: TestClient) -> None:
    # given a ring of four around one device, two members labelled fraud, and an outsider on a card
    accounts = [account_json(f"p{n}", ("device", "dev-p"), ("card", f"own-p{n}")) for n in range(4)]
    accounts.append(account_json("outsider", ("card", "own-p0")))
    client.post("/v1/accounts/batch", json={"accounts": accounts}, headers=ADMIN)
    client.post("/v1/labels", json={"labels": [{"account_id": "p1", "label": "fraud", "source": "t"},
                                               {"account_id": "p2", "label": "fraud", "source": "t"}]}, headers=ADMIN)
    sweep = wait_job(client, client.post("/v1/sweeps", headers=ADMIN).json()["id"])
    assert sweep["status"] == "succeeded", sweep
    # when the outsider asks how it reaches fraud
    paths = client.get("/v1/accounts/outsider/paths", params={"to": "fraud", "max_hops": 2}, headers=ADMIN)
    # then two paths of two hops, through p0's card and the ring's device, ties by id
    assert paths.status_code == 200, paths.text
    body = paths.json()
    assert [(p["target"]["account_id"], p["hops"]) for p in body["data"]] == [("p1", 2), ("p2", 2)]
    assert body["data"][0]["nodes"] == [{"id": "outsider", "kind": "account"}, {"id": "own-p0", "kind": "card"},
                                        {"id": "p0", "kind": "account"}, {"id": "dev-p", "kind": "device"},
                                        {"id": "p1", "kind": "account"}]
    assert body["data"][0]["target"]["label"] == "fraud" and body["truncated"] is False
    assert_error(client.get("/v1/accounts/nobody/paths", headers=ADMIN), 404, "not_found")
    assert_error(client.get("/v1/accounts/p0/paths?max_hops=5", headers=ADMIN), 422, "invalid_input")
    # and the ring and the subgraph come as files in each format, with their content type
    ring_id = client.get("/v1/rings", headers=ADMIN).json()["data"][0]["id"]
    for fmt, media in (("graphml", "application/graphml+xml"), ("gexf", "application/gexf+xml"),
                       ("json", "application/json")):
        for path in (f"/v1/rings/{ring_id}/graph", "/v1/accounts/p0/subgraph"):
            response = client.get(path, params={"format": fmt}, headers=ADMIN)
            assert response.status_code == 200 and response.headers["content-type"].startswith(media), path
    graph = client.get(f"/v1/rings/{ring_id}/graph?format=json", headers=ADMIN).json()
    assert {n["id"] for n in graph["nodes"]} >= {f"account:p{n}" for n in range(4)}
    assert client.get("/v1/accounts/p0/subgraph", headers=ADMIN).json()["truncated"] is False  # default unchanged
    assert_error(client.get(f"/v1/rings/{ring_id}/graph?format=png", headers=ADMIN), 422, "invalid_input")
    assert_error(client.get("/v1/rings/nope/graph", headers=ADMIN), 404, "not_found")


def test_whoami_names_the_key_by_position_and_its_scopes(client: TestClient) -> None:
    for n, scope in enumerate(KEYS):
        body = client.get("/v1/whoami", headers=auth(scope)).json()
        assert body == {"key_id": f"key-{n}", "scopes": [scope]}
        assert KEYS[scope] not in str(body)
    assert_error(client.get("/v1/whoami"), 401, "unauthenticated")


def test_a_ring_reads_with_its_links_and_an_identifier_with_its_accounts(client: TestClient) -> None:
    # given a ring of four around one device (and their own cards), swept
    accounts = [account_json(f"q{n}", ("device", "dev-q"), ("card", f"own-q{n}")) for n in range(4)]
    client.post("/v1/accounts/batch", json={"accounts": accounts}, headers=ADMIN)
    assert wait_job(client, client.post("/v1/sweeps", headers=ADMIN).json()["id"])["status"] == "succeeded"
    ring = client.get("/v1/rings", headers=ADMIN).json()["data"][0]
    # when the ring is read: every member's link to each of the ring's identifiers
    detail = client.get(f"/v1/rings/{ring['id']}", headers=ADMIN).json()
    ring_keys = {(i["type"], i["id"]) for i in detail["identifiers"]}
    assert ("device", "dev-q") in ring_keys
    assert {(x["account_id"], x["type"], x["id"]) for x in detail["links"]} >= {
        (f"q{n}", "device", "dev-q") for n in range(4)}
    assert all((x["type"], x["id"]) in ring_keys for x in detail["links"])
    # and the device reads with its accounts, a page at a time, and the ring it ties
    first = client.get("/v1/identifiers/device/dev-q?limit=3", headers=ADMIN).json()
    assert (first["accounts"], first["benign"], first["ring_ids"]) == (4, False, [ring["id"]])
    assert [x["account_id"] for x in first["data"]] == ["q0", "q1", "q2"] and first["next_cursor"]
    assert all(x["ring_id"] == ring["id"] and 0 <= x["risk"] <= 1 for x in first["data"])
    rest = client.get(f"/v1/identifiers/device/dev-q?limit=3&cursor={first['next_cursor']}", headers=ADMIN).json()
    assert [x["account_id"] for x in rest["data"]] == ["q3"] and rest["next_cursor"] is None
    assert_error(client.get("/v1/identifiers/device/nobody", headers=ADMIN), 404, "not_found")
    assert_error(client.get("/v1/identifiers/phone/dev-q", headers=ADMIN), 422, "invalid_input")



def test_an_investigator_opens_moves_and_confirms_a_rings_case(client: TestClient) -> None:
    # given a swept ring of four around one device
    accounts = [account_json(f"cz{n}", ("device", "dev-cz"), ("card", f"own-cz{n}")) for n in range(4)]
    client.post("/v1/accounts/batch", json={"accounts": accounts}, headers=ADMIN)
    assert wait_job(client, client.post("/v1/sweeps", headers=ADMIN).json()["id"])["status"] == "succeeded"
    ring_id = client.get("/v1/accounts/cz0", headers=ADMIN).json()["ring_id"]
    label_key = f"key-{list(KEYS).index('label')}"
    inv, lab = auth("investigate"), auth("label")
    assert ring_id in {r["id"] for r in client.get("/v1/rings?case_status=none&limit=1000", headers=inv).json()["data"]}
    assert client.get(f"/v1/rings/{ring_id}", headers=inv).json()["case"] is None
    assert_error(client.get(f"/v1/rings/{ring_id}/case", headers=inv), 404, "not_found")
    # when a label key opens the case, assigned, then moves it without naming the assignee
    opened = client.put(f"/v1/rings/{ring_id}/case", json={"status": "open", "assignee": "ana", "note": "new"},
                        headers=lab)
    assert opened.status_code == 200, opened.text
    body = client.put(f"/v1/rings/{ring_id}/case", json={"status": "in_review"}, headers=lab).json()
    # then the case keeps the assignee and its history names the key by position
    assert (body["ring_id"], body["status"], body["assignee"]) == (ring_id, "in_review", "ana")
    assert [(h["status"], h["assignee"], h["note"], h["key_id"]) for h in body["history"]] == [
        ("open", "ana", "new", label_key), ("in_review", "ana", None, label_key)]
    assert body["updated_at"].endswith("Z") and body["updated_at"] == body["history"][-1]["at"]
    assert client.get(f"/v1/rings/{ring_id}", headers=inv).json()["case"] == body
    assert client.get(f"/v1/rings/{ring_id}/case", headers=inv).json() == body
    listed = client.get("/v1/rings?case_status=in_review&assignee=ana", headers=inv).json()["data"]
    assert [(r["id"], r["case_status"], r["assignee"]) for r in listed] == [(ring_id, "in_review", "ana")]
    assert client.get("/v1/rings?case_status=open&assignee=ana", headers=inv).json()["data"] == []
    # and confirming with label_members labels every current member fraud, by case
    confirmed = client.put(f"/v1/rings/{ring_id}/case", json={"status": "confirmed_fraud", "assignee": None,
                                                               "label_members": True}, headers=lab).json()
    assert (confirmed["status"], confirmed["assignee"]) == ("confirmed_fraud", None)
    assert {client.get(f"/v1/accounts/cz{n}", headers=inv).json()["label"] for n in range(4)} == {"fraud"}
    # refusals: another scope, an unknown ring, a status outside the contract, an unknown field
    assert_error(client.put(f"/v1/rings/{ring_id}/case", json={"status": "open"}, headers=inv), 403, "forbidden")
    assert_error(client.put("/v1/rings/nope/case", json={"status": "open"}, headers=lab), 404, "not_found")
    assert_error(client.put(f"/v1/rings/{ring_id}/case", json={"status": "closed"}, headers=lab), 422,
                 "invalid_input")
    assert_error(client.put(f"/v1/rings/{ring_id}/case", json={"status": "open", "x": 1}, headers=lab), 422,
                 "invalid_input")
    assert_error(client.get("/v1/rings?case_status=closed", headers=inv), 422, "invalid_input")
