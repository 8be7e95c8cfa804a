"""Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from vendored files, so both work with no internet.

The files live in ``api/static/vendor/`` (versions and licences in its ``VERSIONS.md``) and are served
under ``/static``; the HTML pages name only local URLs (no CDN, no Google Fonts). ``/`` redirects
(307) to ``/dashboard``; until a dashboard is registered a placeholder page there links to the docs.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"
VENDOR_URL = f"{STATIC_URL}/vendor"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

_PLACEHOLDER = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Social Care Ledger</title></head>
<body><h1>社区管理退休人员服务台账 · Social Care Ledger</h1>
<p>仪表板尚未提供 · The dashboard is not built yet.</p>
<ul><li><a href="/docs">API 文档 · API docs (Swagger UI)</a></li><li><a href="/redoc">ReDoc</a></li>
<li><a href="/health">/health</a></li><li><a href="/metrics">/metrics</a></li></ul></body></html>
"""


def install_docs(app: FastAPI) -> None:
    """Adds ``/static``, ``/docs``, ``/redoc``, ``/`` and (when no route has it yet) ``/dashboard``.

    Call it after the routers are included, with ``docs_url=None, redoc_url=None`` on the app.
    """
    if not any(getattr(route, "path", None) == STATIC_URL for route in app.routes):
        app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} - Swagger UI", oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url, title=f"{title} - ReDoc", with_google_fonts=False,
            redoc_js_url=f"{VENDOR_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=307)

    if not any(getattr(route, "path", None) == "/dashboard" for route in app.routes):
        @app.get("/dashboard", include_in_schema=False)
        async def dashboard_placeholder() -> HTMLResponse:
            return HTMLResponse(_PLACEHOLDER)
