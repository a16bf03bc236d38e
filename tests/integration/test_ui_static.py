"""The /ui/ page as files: security headers with the exact CSP, the vendored library's sha256,
no inline script or style, no markup built from data, and nothing outside the page's folder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfence.api.routes.ui import FILES
from tests.support.clients import TestClient, running_app

UI = Path(__file__).resolve().parents[2] / "api" / "ui"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with running_app(tmp_path_factory.mktemp("ui")) as c:
        yield c


@pytest.mark.parametrize("path", ["/ui/", "/ui/js/main.js", "/ui/app.css", "/ui/vendor/cytoscape.esm.min.mjs"])
def test_every_file_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    expected = {"html": "text/html", "js": "text/javascript", "mjs": "text/javascript", "css": "text/css"}
    assert response.headers["content-type"].startswith(expected[path.rsplit(".", 1)[-1] if "." in path else "html"])


def test_the_page_needs_no_key_and_the_api_still_does(client: TestClient) -> None:
    assert client.get("/ui/").text.startswith("<!doctype html>")
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/"
    assert client.get("/v1/rings").status_code == 401


@pytest.mark.parametrize("path", ["/ui/../pyproject.toml", "/ui/%2e%2e/pyproject.toml", "/ui/vendor/LICENSE",
                                  "/ui/vendor/VENDOR.md", "/ui/nope.js", "/ui/js/"])
def test_only_the_pages_own_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert set(response.json()) == {"error"}


def test_the_vendored_cytoscape_matches_its_recorded_sha256() -> None:
    vendor = (UI / "vendor" / "VENDOR.md").read_text()
    recorded = re.search(r"`cytoscape\.esm\.min\.mjs`.*?\| 3\.35\.0 \|.*`([0-9a-f]{64})`", vendor)
    assert recorded is not None
    assert hashlib.sha256((UI / "vendor" / "cytoscape.esm.min.mjs").read_bytes()).hexdigest() == recorded.group(1)
    assert "MIT" in vendor and "Permission is hereby granted" in (UI / "vendor" / "LICENSE").read_text()


def test_no_inline_script_or_style_and_no_markup_from_data() -> None:
    html = (UI / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert all('src="' in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert "<style" not in html and " style=" not in html and not re.search(r"\bon[a-z]+=", html)
    assert 'href="http' not in html and 'src="http' not in html  # no CDN
    for module in (UI / "js").glob("*.js"):
        text = module.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       "localStorage.setItem", "document.cookie"):
            assert banned not in text, (module.name, banned)


def test_the_route_serves_exactly_the_package_files() -> None:
    assert set(FILES) == {p.relative_to(UI).as_posix() for p in UI.rglob("*")
                          if p.is_file() and p.suffix in {".html", ".js", ".mjs", ".css"}}
