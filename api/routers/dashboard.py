"""``GET /dashboard``: the agency dashboard, a static page that reads only the public ``/v1`` API.

The page (``api/static/dashboard/index.html``) and its scripts, styles and the vendored ECharts are
served from ``/static`` (``api.docs``); nothing comes from elsewhere, so it works with no internet.
The page asks for a bearer token and keeps it in the tab's ``sessionStorage`` only; every figure it
shows is one an API call answered. Its Content-Security-Policy allows scripts from this server only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

PAGE = Path(__file__).resolve().parent.parent / "static" / "dashboard" / "index.html"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter()


@router.get("/dashboard", include_in_schema=False)
def dashboard() -> FileResponse:
    """The dashboard page (no token needed for the page itself; its API calls need one)."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })
