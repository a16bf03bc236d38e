"""Fuzz every route with hypothesis (bodies, cursors, query strings, path parameters): nothing a
caller sends, with any key, makes a 5xx other than 503 (issue #14: deep JSON and forged cursors did)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ringfence.graph import cursor as cursors
from tests.support.builders import account_json
from tests.support.clients import TORCH_SPARSE, running_app
from tests.support.settings import ADMIN, auth

pytestmark = TORCH_SPARSE
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=4), max_leaves=20)
NAMES = ["cursor", "limit", "order", "min_risk", "label", "hops", "score", "refresh", "x", "format"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([2, 31, 33, 400, 1024, 3000]))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    return opener * depth + b"1" + closer * draw(st.sampled_from([0, depth]))


CURSORS = st.one_of(
    st.text(min_size=1, max_size=60),
    JSON.map(lambda v: _b64(json.dumps(v).encode())),
    nested().map(lambda raw: _b64(raw[:1500])),  # a URL holds at most 64 KiB
    st.builds(lambda r, s, i: cursors.encode(r=r, s=s, i=i), st.integers(-(2**64), 2**64) | st.floats(), SCALARS,
              SCALARS),
    st.builds(lambda c, t: f"{c}.{t}", st.text(max_size=30), st.text(max_size=30)),
)
BODIES = st.one_of(
    st.none(),
    JSON.map(lambda v: json.dumps(v).encode()),
    nested(),
    st.binary(max_size=200),
    st.builds(lambda v: json.dumps({"accounts": [v]}).encode(), JSON),
    st.builds(lambda v: json.dumps({"labels": [{"account_id": "a", "label": "fraud", "source": v}]}).encode(), JSON),
    st.builds(lambda v: json.dumps({**account_json("a"), "attributes": {"k": v}}).encode(), JSON),
)
EXTRA_ROUTES = {("GET", "/docs"), ("GET", "/docs/assets/{name}"), ("GET", "/openapi.json"), ("GET", "/v1/rings/"),
                ("DELETE", "/v1/accounts/{id}")}
KEYS = st.sampled_from([ADMIN, auth("investigate"), auth("score"), {}, {"Authorization": "Bearer nope"}])


def test_no_5xx_but_503_from_anything_sent(tmp_path: Path) -> None:
    with running_app(tmp_path) as client:
        client.post("/v1/accounts?score=sync", json=account_json("a", ("card", "tok-a")), headers=ADMIN)
        paths = client.get("/openapi.json").json()["paths"]
        routes = sorted({(m.upper(), p) for p, ops in paths.items() for m in ops} | EXTRA_ROUTES)
        tried: list[int] = []

        @settings(max_examples=400, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(route=st.sampled_from(routes), params=st.lists(st.text(max_size=12), max_size=3),
               query=st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8),
                                     st.text(max_size=30) | CURSORS, max_size=4),
               body=BODIES, headers=KEYS)
        def call(route: tuple[str, str], params: list[str], query: dict[str, str], body: bytes | None,
                 headers: dict[str, str]) -> None:
            method, template = route
            fills = iter([*params, "a", "a", "a"])
            path = re.sub(r"\{[^}]+\}", lambda _: quote(next(fills) or "a", safe=""), template)
            try:
                response = client.request(method, path, params=query, content=body,
                                          headers={**headers, "content-type": "application/json"})
            except httpx.InvalidURL:  # the client cannot send it (too long, control characters)
                assume(False)
                return
            tried.append(response.status_code)
            assert response.status_code < 500 or response.status_code == 503, (method, path, query, body,
                                                                                  response.text[:300])
            if response.status_code >= 400 and path.startswith("/v1"):
                assert set(response.json()) == {"error"}, response.text[:300]

        call()
        assert len(tried) >= 100 and any(s == 400 for s in tried)
