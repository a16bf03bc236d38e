"""Interactive docs at /docs, with Swagger UI's files served from the package (api/static/docs,
versions and hashes in its VENDOR.md): no CDN, so the page works offline and loads nothing
from a third party."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from ringfence.core.errors import NotFound

router = APIRouter(include_in_schema=False)
ASSETS = Path(__file__).resolve().parent.parent / "static" / "docs"
_SERVED = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="ringfence API",
                               swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                               swagger_css_url="/docs/assets/swagger-ui.css",
                               swagger_favicon_url="/docs/assets/favicon.png")


@router.get("/docs/assets/{name}")
async def docs_asset(name: str) -> FileResponse:
    if name not in _SERVED:  # a fixed list: no path from the caller reaches the file system
        raise NotFound("no such asset")
    return FileResponse(ASSETS / name, media_type=_SERVED[name])
