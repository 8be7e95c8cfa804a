"""The dashboard's overview in a real headless Chromium against a 140-retiree demo: sign-in, figures and
charts equal to what the API answers, filters in the URL, the language switch, compliance, training and
funding. Expected figures come from :mod:`tests.browser.expected`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from api.main import create_app
from devtools.demo import generate
from ledger.config import Settings
from runtime.bootstrap import opened
from tests.browser.conftest import Site, artifacts, chart, settled, sign_in
from tests.browser.expected import (
    Rows,
    assert_overview_shows,
    axis,
    figure,
    loaded,
    per_community,
    query,
    text,
)
from tests.e2e.conftest import serving

pytestmark = pytest.mark.browser


def test_signing_in_keeps_the_token_in_the_tab_session_only(page: Page, site: Site) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, site)
    secret = site.tokens.secrets["auditor"]
    assert page.evaluate("Object.values(sessionStorage)") == [secret]
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert requested and all(secret not in url for url in requested)
    assert all(url.startswith(site.url) for url in requested), "everything comes from the ledger's server"
    page.reload()
    settled(page)  # the session survives a reload of the tab
    page.click("#signout")
    assert page.evaluate("document.body.dataset.state") == "signin"
    assert page.evaluate("sessionStorage.length") == 0


@pytest.mark.parametrize("caller", ["revoked", "garbage"])
def test_a_refused_token_returns_to_sign_in_with_a_message(page: Page, site: Site, caller: str) -> None:
    page.goto(f"{site.url}/dashboard")
    assert page.is_visible("#signin") and not page.is_visible("#signin-message")
    secret = site.tokens.headers(caller)["Authorization"].removeprefix("Bearer ")
    page.fill("#token", secret)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-message[data-reason='401']")
    assert page.evaluate("document.body.dataset.state") == "signin"
    assert "401" in (page.text_content("#signin-message") or "")
    assert page.evaluate("sessionStorage.length") == 0
    assert page.locator("#view .card").count() == 0


def test_the_overview_shows_what_the_api_returns(page: Page, site: Site) -> None:
    sign_in(page, site)
    data = loaded(site)
    assert_overview_shows(page, data)
    positions = page.eval_on_selector_all("#status [data-view]", "spans => spans.map(s => +s.dataset.position)")
    assert positions and set(positions) == {site.server.head()}


def test_filters_are_in_the_url_and_change_the_figures(page: Page, site: Site) -> None:
    sign_in(page, site)
    everywhere = figure(page, "managed")
    changsha = sorted({row["community"] for row in site.rows("standards", city="Changsha")})
    assert len(changsha) == 2
    page.select_option("#f-city", "Changsha")
    assert page.eval_on_selector_all("#f-community option", "os => os.map(o => o.value)") == ["", *changsha]
    page.fill("#f-month_from", "2024-01")
    page.fill("#f-month_to", "2025-06")
    page.select_option("#f-service_type", "home_visit")
    page.click("#filters button[type=submit]")
    settled(page)
    filters = {"city": "Changsha", "month_from": "2024-01", "month_to": "2025-06", "service_type": "home_visit"}
    assert query(page) == filters
    assert figure(page, "managed") != everywhere
    assert_overview_shows(page, loaded(site, **filters), "home_visit")
    assert chart(page, "chart-managed")["x"][0] == "2024-01" and chart(page, "chart-managed")["x"][-1] == "2025-06"

    page.select_option("#f-community", changsha[1])
    page.click("#filters button[type=submit]")
    settled(page)
    assert query(page) == {**filters, "community": changsha[1]}
    assert list(chart(page, "chart-managed")["series"]) == [changsha[1]]
    assert_overview_shows(page, loaded(site, **filters, community=changsha[1]), "home_visit")

    page.go_back()  # the previous filters come back from the URL
    settled(page)
    assert query(page) == filters and page.input_value("#f-community") == ""
    page.goto(f"{site.url}/dashboard?month_from=2025-01&service_type=health_check")
    settled(page)
    assert page.input_value("#f-month_from") == "2025-01" and page.input_value("#f-service_type") == "health_check"
    assert_overview_shows(page, loaded(site, month_from="2025-01", service_type="health_check"), "health_check")
    page.click("#f-reset")
    settled(page)
    assert query(page) == {} and figure(page, "managed") == everywhere


def test_labels_are_chinese_first_and_switch_to_english(page: Page, site: Site) -> None:
    sign_in(page, site, query="?month_from=2024-07&month_to=2026-06")  # overview-zh.png is docs/dashboard.png
    figures = {kpi: figure(page, kpi) for kpi in ("managed", "services", "pension")}
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.text_content("header h1 [data-i18n=title]") == "社区管理退休人员服务台账"
    assert text(page, "#kpi-managed .label").startswith("在管退休人员")
    assert chart(page, "chart-managed")["title"] .startswith("在管退休人员")
    assert page.text_content("#lang") == "English"
    page.screenshot(path=str(artifacts() / "overview-zh.png"))

    page.click("#lang")
    settled(page)
    assert query(page) == {"month_from": "2024-07", "month_to": "2026-06", "lang": "en"}
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.text_content("header h1 [data-i18n=title]") == "Social Care Ledger"
    assert text(page, "#kpi-managed .label").startswith("Retirees managed")
    assert page.text_content("label:has(#f-city) span") == "City"
    assert chart(page, "chart-managed")["title"] == "Retirees managed, by community"
    assert text(page, "#panel-compliance h2").startswith("Service standards")
    assert {kpi: figure(page, kpi) for kpi in figures} == figures  # the same answers, other labels
    page.screenshot(path=str(artifacts() / "overview-en.png"))

    page.click("#lang")
    settled(page)
    assert page.text_content("header h1 [data-i18n=title]") == "社区管理退休人员服务台账"


def test_the_compliance_table_puts_the_shortfalls_first(page: Page, site: Site) -> None:
    sign_in(page, site)
    rows = site.rows("compliance")
    unmet = [row for row in rows if row["met"] is False]
    assert unmet and len(unmet) < len(rows)
    assert rows[:len(unmet)] == unmet, "the API answers the shortfalls first"
    assert page.get_attribute("#compliance-unmet", "data-value") == str(len(unmet))
    assert page.get_attribute("#compliance-rows", "data-value") == str(len(rows))

    def shown() -> list[list[Any]]:
        lines: list[list[Any]] = page.eval_on_selector_all("#compliance tbody tr", """trs => trs.map(tr => {
            const [value, met, shortfall] = [6, 7, 8].map(n => tr.cells[n].dataset.value);
            const number = v => (v === "" ? null : +v);
            return [tr.className, tr.cells[1].textContent, tr.cells[2].textContent, number(value),
                    met === "" ? null : met === "true", number(shortfall)]; })""")
        return lines

    def expected(chosen: Rows) -> list[list[Any]]:
        kind = {True: "met", False: "unmet", None: "unjudged"}
        return [[kind[r["met"]], r["period"], r["standard"], r["value"], r["met"], r["shortfall"]]
                for r in chosen]

    first = shown()
    assert 0 < len(first) < len(rows)
    assert first == expected(rows[:len(first)])
    page.click("#compliance-all")
    assert shown() == expected(rows)


def test_training_and_funding_figures_equal_the_api(page: Page, site: Site) -> None:
    sign_in(page, site, query="?city=Changsha")
    training = site.rows("training", city="Changsha")
    groups: dict[tuple[str, int], Rows] = defaultdict(list)
    for row in training:
        groups[(row["community"], row["year"])].append(row)
    lines = page.eval_on_selector_all("#training tbody tr", """trs => trs.map(tr =>
        [tr.dataset.community, +tr.dataset.year, ...[...tr.cells].map(td => td.dataset.value ?? td.textContent)])""")
    assert len(lines) == len(groups)
    for community, year, *cells in lines:
        own = groups[(community, year)]
        judged = [row for row in own if row["meets_standard"] is not None]
        assert [float(c) for c in cells[2:5]] == [len(own), own[0]["community_full_time_staff"],
                                                  sum(r["hours"] for r in own)]
        assert cells[5] == (f"{sum(1 for r in judged if r['meets_standard'])} / {len(judged)}" if judged else "—")
        assert [float(c) for c in cells[6:8]] == [own[0]["community_qualified_share"],
                                                  own[0]["community_left_within_a_year"]]
    hours = chart(page, "chart-training")
    assert hours["x"] == axis(training, "year")
    assert hours["series"] == {community: [sum(r["hours"] for r in groups[(community, year)])
                                           if (community, year) in groups else None for year in hours["x"]]
                               for community in {c for c, _ in groups}}

    funding = site.rows("funding", city="Changsha")
    shown = page.eval_on_selector_all("#funding tbody tr", """trs => trs.map(tr =>
        [tr.dataset.community, +tr.dataset.year, ...[...tr.cells].slice(2, 5).map(td => td.dataset.value)])""")
    assert sorted(map(tuple, shown)) == sorted(
        (r["community"], r["year"], r["total"], r["per_managed_retiree"], r["per_full_time_staff"]) for r in funding)
    assert chart(page, "chart-funding")["series"] == per_community(funding, "year", "total")


def test_under_make_run_any_text_signs_in(page: Page, tmp_path: Path) -> None:
    """``make run`` serves in development mode (no tokens): the README says any text signs in."""
    home = tmp_path / "home"
    with opened(Settings(home=home)) as services:
        generate(services.ledger, retirees=20, seed=3)
        services.settle()
    with serving(create_app(dev_mode=True), home) as server:
        page.goto(f"{server.url}/dashboard")
        page.fill("#token", "dev")
        page.click("#signin-form button[type=submit]")
        settled(page)
        answer = httpx.get(f"{server.url}/v1/projections/workload", params={"limit": 1000}).json()
        assert answer["next_cursor"] is None
        managed = answer["rows"]
        last = max(row["month"] for row in managed)
        assert figure(page, "managed") == str(sum(row["retirees_managed"] for row in managed if row["month"] == last))
