"""Pagination under concurrent writes, and idempotent / all-or-nothing writes."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest

from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, TestClient, assert_error
from tests.support.settings import ADMIN

pytestmark = TORCH_SPARSE



def sweep(client: TestClient) -> None:
    response = client.post("/v1/sweeps", headers=ADMIN)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=ADMIN)
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("succeeded", "failed"):
            return
        assert time.monotonic() < deadline
        time.sleep(0.05)


def world(n: int) -> list[dict[str, Any]]:
    # Groups of 4 sharing a device make rings; the rest stand alone.
    return [account_json(f"acc-{k:04d}", ("device", f"dev-{k // 4 if k < n // 2 else k}"), ("card", f"tok-{k}"))
            for k in range(n)]


@pytest.mark.parametrize("order", ["risk_desc", "id"])
def test_cursor_walk_returns_every_item_once_while_writes_go_on(client: TestClient, order: str) -> None:
    # given a scored graph
    client.post("/v1/accounts/batch", json={"accounts": world(240)}, headers=ADMIN)
    labels = [{"account_id": f"acc-{k:04d}", "label": "fraud", "source": "test"} for k in range(0, 40, 4)]
    client.post("/v1/labels", json={"labels": labels}, headers=ADMIN)
    sweep(client)
    before = {f"acc-{k:04d}" for k in range(240)}
    # when walking in small pages while accounts are added, changed, relabelled and re-swept
    seen: list[str] = []
    cursor = None
    page_no = 0
    while True:
        query = f"order={order}&limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v1/accounts?{query}", headers=ADMIN).json()
        seen += [a["id"] for a in page["data"]]
        page_no += 1
        new = [account_json(f"acc-{k:04d}x", ("device", "dev-0")) for k in range(page_no * 3, page_no * 3 + 3)]
        changed = [account_json(f"acc-{(page_no * 37) % 240:04d}", ("device", f"dev-moved-{page_no}"), moved=page_no)]
        client.post("/v1/accounts/batch", json={"accounts": new + changed}, headers=ADMIN)
        if page_no in (5, 20):
            sweep(client)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # then nothing repeats and nothing that existed before the walk is missed
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_ring_walk_is_pinned_to_one_sweep(client: TestClient) -> None:
    client.post("/v1/accounts/batch", json={"accounts": world(200)}, headers=ADMIN)
    sweep(client)
    first = client.get("/v1/rings?limit=1000", headers=ADMIN).json()["data"]
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get("/v1/rings?limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=ADMIN).json()
        seen += [r["id"] for r in page["data"]]
        if len(seen) == 6:
            client.post("/v1/accounts/batch", json={"accounts": [account_json("late", ("device", "dev-0"))]},
                        headers=ADMIN)
            sweep(client)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(r["id"] for r in first)


def test_same_account_twice_leaves_the_same_state(client: TestClient) -> None:
    body = {"id": "twice", "attributes": {"a": 1, "b": "x"},
            "links": [{"type": "card", "id": "tok-1"}, {"type": "device", "id": "dev-1",
                                                        "seen_at": "2026-01-02T03:04:05Z"}]}
    dated = {**body, "id": "twice-dated", "created_at": "2026-01-01T00:00:00+02:00"}
    for b in (body, dated):
        first = client.post("/v1/accounts?score=none", json=b, headers=ADMIN).json()["account"]
        time.sleep(0.01)
        second = client.post("/v1/accounts?score=none", json=b, headers=ADMIN).json()["account"]
        assert first == second
        assert client.get(f"/v1/accounts/{b['id']}", headers=ADMIN).json() == first
    assert client.get("/v1/accounts/twice-dated", headers=ADMIN).json()["created_at"] == "2025-12-31T22:00:00Z"
    # merging: a second body adds links and attributes, keeps the rest
    merged = client.post("/v1/accounts?score=none", json={"id": "twice", "attributes": {"b": "y", "c": True},
                                                           "links": [{"type": "card", "id": "tok-2"}]},
                         headers=ADMIN).json()["account"]
    assert merged["attributes"] == {"a": 1, "b": "y", "c": True}
    assert {x["id"] for x in merged["links"]} == {"tok-1", "tok-2", "dev-1"}


def test_failed_batch_leaves_nothing_behind(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    good = [account_json(f"g{k}", ("card", f"t{k}")) for k in range(100)]
    for bad in ({"id": "bad id"}, {"id": "b", "links": [{"type": "phone", "id": "x"}]},
                {"id": "b", "attributes": {"pan": "4111 1111 1111 1111"}}):
        response = client.post("/v1/accounts/batch", json={"accounts": [*good[:50], bad, *good[50:]]}, headers=ADMIN)
        assert response.status_code == 422
        assert store.count_accounts() == 0
    labels = [{"account_id": "g1", "label": "fraud", "source": "t"}]
    assert_error(client.post("/v1/labels", json={"labels": labels}, headers=ADMIN), 404, "not_found")
    assert store.label_history("g1") == []


def test_batch_failing_inside_the_store_leaves_nothing_behind(client: TestClient) -> None:
    # given a store that fails on the batch's last link, after every other row was written
    store = client.app.state.store  # type: ignore[attr-defined]
    with sqlite3.connect(store.path) as conn:
        conn.execute("CREATE TRIGGER fail_late BEFORE INSERT ON links WHEN NEW.id = 'tok-late' "
                     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    good = [account_json(f"g{k}", ("card", f"t{k}"), ("device", "shared-dev")) for k in range(200)]
    late = account_json("late", ("card", "tok-late"))
    # when the batch is posted
    response = client.post("/v1/accounts/batch", json={"accounts": [*good, late]}, headers=ADMIN)
    # then it fails as a whole: an error in the JSON shape, and not one account or link stored
    assert_error(response, 500, "internal")
    assert store.count_accounts() == 0
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM links").fetchone() == (0,)
    # and the same batch without the failing link goes through whole
    response = client.post("/v1/accounts/batch", json={"accounts": good}, headers=ADMIN)
    assert response.status_code == 200 and response.json() == {"accounts": 200, "links": 400}
