"""The investigator's web page at /ui/: static files from the package (api/ui), no build step.

Every file is served with a strict Content-Security-Policy: scripts and styles only from this
origin, no inline script or style, calls only to this origin. The page holds no data of its
own; every call it makes carries the key the investigator pastes in.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from ringfence.core.errors import NotFound

router = APIRouter(include_in_schema=False)
ROOT = Path(__file__).resolve().parent.parent / "ui"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Small files that change with each release: revalidate rather than serve a stale module.
    "Cache-Control": "no-cache",
}
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png"}
# A fixed map built at import: no path from the caller ever reaches the file system.
FILES = {p.relative_to(ROOT).as_posix(): p for p in sorted(ROOT.rglob("*"))
         if p.is_file() and p.suffix in _TYPES}


def _serve(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise NotFound("no such file")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=HEADERS)


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    # A path, never a URL built from the caller's Host header.
    return RedirectResponse("/ui/", status_code=308, headers=HEADERS)


@router.get("/ui/")
async def ui_index() -> FileResponse:
    return _serve("index.html")


@router.get("/ui/{name:path}")
async def ui_file(name: str) -> FileResponse:
    return _serve(name)
