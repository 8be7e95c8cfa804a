"""``/docs`` and ``/redoc`` name only local URLs, the vendored files are served with their licences,
and ``/`` redirects to the dashboard."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings

LOCAL = "http://127.0.0.1"
URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]|https?://[^\s"'<>]+""")


def referenced(html: str) -> list[str]:
    return [next(filter(None, m.groups()), m.group(0)) for m in URL.finditer(html)]


def test_swagger_ui_and_redoc_reference_only_local_files_which_are_served(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        for page in ("/docs", "/redoc"):
            response = client.get(page)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
            urls = referenced(response.text)
            assert urls, page
            assert not [url for url in urls if "//" in url], urls  # no CDN, no fonts, nothing off the server
            for url in urls:
                served = client.get(url)
                assert served.status_code == 200, url
                assert len(served.content) > 0
        for licence in ("/static/vendor/swagger-ui/LICENSE", "/static/vendor/redoc/LICENSE"):
            assert client.get(licence).status_code == 200
        assert client.get("/docs/oauth2-redirect").status_code == 200
        assert client.get("/static/vendor/../../main.py").status_code == 404


def test_the_root_redirects_to_the_dashboard_which_links_to_the_docs(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        response = client.get("/", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (307, "/dashboard")
        dashboard = client.get("/dashboard")
        assert dashboard.status_code == 200 and 'href="/docs"' in dashboard.text
        assert "/docs" not in client.get("/openapi.json").json()["paths"]
