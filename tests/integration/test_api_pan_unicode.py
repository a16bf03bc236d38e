"""Card numbers in every digit set, separator and JSON number form: refused in every field,
never echoed, and never in the SQLite store file, its WAL or the logs (issue #14)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.builders import account_json, pans
from tests.support.clients import TORCH_SPARSE, assert_error, running_app
from tests.support.settings import ADMIN

pytestmark = TORCH_SPARSE
HEADERS = {**ADMIN, "content-type": "application/json"}

def requests_for(written: str, digits: str) -> list[tuple[str, str, bytes | None]]:
    """(method, url, raw body) with the number in one place each."""
    label = {"account_id": "known", "label": "fraud", "source": "chargeback"}

    def body(value: object) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode()

    return [
        ("POST", "/v1/accounts", body({"id": written})),
        ("POST", "/v1/accounts", body({"id": "x", "attributes": {"k": f"card {written} here"}})),
        ("POST", "/v1/accounts", body({"id": "x", "attributes": {written: "v"}})),
        ("POST", "/v1/accounts", body(account_json("x", ("card", written)))),
        ("POST", "/v1/accounts", f'{{"id": "x", "attributes": {{"k": {digits}.5}}}}'.encode()),
        ("POST", "/v1/accounts", f'{{"id": "x", "attributes": {{"k": {digits[0]}.{digits[1:]}e{len(digits) - 1}}}}}'
         .encode()),
        ("POST", "/v1/accounts", f'{{"id": "x", "attributes": {{"k": {digits}}}}}'.encode()),
        ("POST", "/v1/accounts/batch", body({"accounts": [{"id": "y", "attributes": {"k": written}}]})),
        ("POST", "/v1/labels", body({"labels": [{**label, "note": written}]})),
        ("POST", "/v1/labels", body({"labels": [{**label, "source": written}]})),
        ("GET", f"/v1/accounts?{quote(written)}=1", None),
        ("GET", f"/v1/accounts?label={quote(written)}", None),
        ("GET", f"/v1/accounts/{quote(written)}", None),
    ]


def test_card_numbers_in_every_script_are_refused_and_never_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_app(tmp_path) as client:
        client.post("/v1/accounts?score=none", json=account_json("known", ("card", "tok-known")), headers=ADMIN)
        seen: list[tuple[str, str]] = []

        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(pan=pans())
        def refused(pan: tuple[str, str]) -> None:
            written, digits = pan
            seen.append(pan)
            for method, url, raw in requests_for(written, digits):
                response = client.request(method, url, content=raw, headers=HEADERS)
                if method == "GET" and url.startswith("/v1/accounts/") and "/" in written:
                    # a `/` separator in the path makes it a path no route has: 404, nothing echoed
                    assert_error(response, 404, "not_found")
                else:
                    assert_error(response, 422, "pan_not_allowed")
                assert digits not in response.text and written not in response.text, (url, response.text)

        refused()
        assert client.app.state.store.count_accounts() == 1  # type: ignore[attr-defined]
        # the store's files while it is open: the database and its write-ahead log
        blobs = [(p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()]
    assert any(name.endswith("-wal") for name, _ in blobs) and any(b"tok-known" in b for _, b in blobs)
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logs = ("\n".join(r.getMessage() for r in records) + capfd.readouterr().err).encode()
    for written, digits in seen:
        for name, blob in [*blobs, ("logs", logs)]:
            for form in {written.encode(), digits.encode(), written.encode("unicode_escape")}:
                assert form not in blob, (name, written)
