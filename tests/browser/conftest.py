"""One real uvicorn server over a demo ledger and one headless Chromium, shared by the browser tests.

The demo (``devtools.demo.generate``, 140 retirees: four communities, two of them in Changsha) is written
with a signing key, so the ledger has a signed checkpoint; tokens come from
:func:`tests.e2e.conftest.make_tokens`. Chromium is Debian's (:func:`devtools.browser.chromium_path`),
never a downloaded one: when it is missing the tests fail and say how to install it. Each test gets a
fresh browser context (empty ``sessionStorage``); screenshots go to ``LEDGER_TEST_ARTIFACTS`` (default
``.artifacts/browser/`` in the repository). A page that throws a script error or logs a console error (a
Content-Security-Policy refusal, a missing file; refused API calls aside) fails its test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api.main import create_app
from devtools.browser import chromium_path
from devtools.demo import generate
from ledger.config import Settings
from ledger.integrity.checkpoints import init_signing_key
from runtime.bootstrap import opened
from tests.e2e.conftest import Server, Tokens, make_tokens, serving

ROOT = Path(__file__).resolve().parents[2]
RETIREES, SEED = 140, 7
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}


def artifacts() -> Path:
    folder = Path(os.environ.get("LEDGER_TEST_ARTIFACTS") or ROOT / ".artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Site:
    """The running server, its tokens, and an httpx client to ask the API what the page should show."""

    server: Server
    tokens: Tokens
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, caller: str, path: str, **params: Any) -> Any:
        response = self.client.get(path, params={k: v for k, v in params.items() if v},
                                   headers=self.tokens.headers(caller))
        assert response.status_code == 200, response.text
        return response.json()

    def rows(self, view: str, caller: str = "auditor", **params: Any) -> list[dict[str, Any]]:
        """Every row of a projection, following ``next_cursor`` like the page does."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            body = self.get(caller, f"/v1/projections/{view}", **params, **({"cursor": cursor} if cursor else {}))
            rows.extend(body["rows"])
            cursor = body.get("next_cursor")
            if not cursor:
                return rows


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("dashboard") / "home"
    settings = Settings(home=home)
    init_signing_key(settings)
    with opened(settings) as services:
        generate(services.ledger, retirees=RETIREES, seed=SEED)
        services.settle()
    tokens = make_tokens(home)
    with serving(create_app(), home) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield Site(server, tokens, client)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if not executable.exists():
        pytest.fail(f"Chromium is missing at {executable}: run `python -m devtools.browser install` "
                    "(Debian's chromium) or set LEDGER_CHROMIUM to a Chromium executable")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Errors:
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
    opened_page = context.new_page()
    errors = Errors()
    opened_page.on("pageerror", lambda error: errors.seen.append(str(error)))
    opened_page.on("console", lambda message: errors.seen.append(f"console: {message.text}")
                   if message.type == "error" and not expected_refusal(message.text) else None)
    try:
        yield opened_page
    finally:
        opened_page.screenshot(path=str(artifacts() / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not errors.seen, errors.seen


def expected_refusal(text: str) -> bool:
    """Chromium logs every refused fetch (401 for a bad token, 403/404 the page shows as such) as an error."""
    return text.startswith("Failed to load resource: the server responded with a status of 40")


def sign_in(page: Page, site: Site, caller: str = "auditor", query: str = "") -> None:
    """Opens the dashboard (with ``query``), signs in with ``caller``'s token and waits for the figures."""
    page.goto(f"{site.url}/dashboard{query}")
    page.fill("#token", site.tokens.secrets[caller])
    page.click("#signin-form button[type=submit]")
    settled(page)


def settled(page: Page) -> None:
    """Waits until the page has shown what its calls answered for the URL it is at now (or failed, which
    the test then sees): a state left from the previous URL does not count."""
    page.wait_for_function("""() => ["ready", "failed", "signin"].includes(document.body.dataset.state)
                                      && document.body.dataset.shown === location.search""")
    assert page.evaluate("document.body.dataset.state") == "ready", page.text_content("#status")


def chart(page: Page, element_id: str) -> dict[str, Any]:
    """The chart's title, x axis and series ({id: data}) as ECharts holds them."""
    option: dict[str, Any] = page.evaluate(
        """id => { const o = echarts.getInstanceByDom(document.getElementById(id)).getOption();
                   return {title: o.title[0].text, x: o.xAxis[0].data,
                           series: Object.fromEntries(o.series.map(s => [s.id, s.data]))}; }""", element_id)
    return option
