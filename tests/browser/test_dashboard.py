"""The dashboard in a real headless Chromium against a 140-retiree demo: what it shows is what the API answers.

Every expected figure is computed here from the API's own rows (``site.rows``) for the same filters and
caller, the way the page states it computes them (sums of returned fields, the last month's rows); the
page's figures are read from ``data-value`` attributes and from the ECharts instances' options.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page

from api.main import create_app
from devtools.demo import generate
from ledger.config import Settings
from runtime.bootstrap import opened
from tests.browser.conftest import Site, artifacts, chart, settled, sign_in
from tests.e2e.conftest import serving

pytestmark = pytest.mark.browser

Rows = list[dict[str, Any]]
SCORES = ["1", "2", "3", "4", "5"]


def query(page: Page) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(page.url).query).items()}


def text(page: Page, selector: str) -> str:
    shown = page.text_content(selector)
    assert shown is not None, selector
    return shown


def figure(page: Page, kpi: str) -> str:
    value = page.get_attribute(f"#kpi-{kpi} .figure", "data-value")
    assert value is not None
    return value


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def loaded(site: Site, caller: str = "auditor", **filters: str) -> dict[str, Rows]:
    """The rows the overview reads for ``filters`` (service_type goes to the satisfaction view only)."""
    common = {name: filters.get(name, "") for name in ("city", "community", "month_from", "month_to")}
    views = {view: site.rows(view, caller, **common)
             for view in ("workload", "pensions", "standards", "compliance", "training", "funding")}
    views["satisfaction"] = site.rows("satisfaction", caller, **common, service_type=filters.get("service_type", ""))
    return views


def axis(rows: Rows, key: str) -> list[Any]:
    return sorted({row[key] for row in rows})


def per_community(rows: Rows, key: str, field: str) -> dict[str, list[Any]]:
    points = axis(rows, key)
    at: dict[str, dict[Any, Any]] = defaultdict(dict)
    for row in rows:
        value = row[field]
        at[row["community"]][row[key]] = None if value is None else float(value)
    return {community: [values.get(point) for point in points] for community, values in at.items()}


def summed(rows: Rows, key: str, value: Any) -> list[Any]:
    sums: dict[Any, Any] = defaultdict(int)
    for row in rows:
        sums[row[key]] += value(row)
    return [sums[point] for point in axis(rows, key)]


def expected_kpis(data: dict[str, Rows], service_type: str = "") -> dict[str, str]:
    work, pensions = data["workload"], data["pensions"]
    month = max(row["month"] for row in work)
    at_month = [row for row in work if row["month"] == month]
    pension_month = max(row["month"] for row in pensions)
    typed = service_type in work[0]["services"]
    return {
        "managed": str(sum(row["retirees_managed"] for row in at_month)),
        "staff": str(sum(row["full_time_staff"] for row in at_month)),
        "transfers-in": str(sum(row["transfers_in"] for row in work)),
        "transfers-out": str(sum(row["transfers_out"] for row in work)),
        "services": str(sum(row["services"][service_type] if typed else row["services_total"] for row in work)),
        "minutes": str(sum(row["service_minutes"] for row in work)),
        "training-hours": str(sum(row["training_hours"] for row in work)),
        "ratings": str(sum(row["count"] for row in data["satisfaction"])),
        "pension": money(sum((Decimal(row["total_monthly_pension"]) for row in pensions
                              if row["month"] == pension_month), Decimal(0))),
        "adjustments": str(sum(row["adjustments"] for row in pensions)),
    }


def assert_overview_shows(page: Page, data: dict[str, Rows], service_type: str = "") -> None:
    """The cards and the charts hold what ``data`` (the API's rows) says."""
    assert {kpi: figure(page, kpi) for kpi in expected_kpis(data, service_type)} == expected_kpis(data, service_type)
    work = data["workload"]
    months = axis(work, "month")
    managed = chart(page, "chart-managed")
    assert managed["x"] == months
    assert managed["series"] == per_community(work, "month", "retirees_managed")
    transfers = chart(page, "chart-transfers")["series"]
    assert transfers == {"transfers_in": summed(work, "month", lambda r: r["transfers_in"]),
                         "transfers_out": summed(work, "month", lambda r: r["transfers_out"])}
    types = [service_type] if service_type in work[0]["services"] else list(work[0]["services"])
    services = chart(page, "chart-services")["series"]
    assert services == {**{kind: summed(work, "month", lambda r, k=kind: r["services"][k]) for kind in types},
                        "service_minutes": summed(work, "month", lambda r: r["service_minutes"])}
    assert chart(page, "chart-ratio")["series"] == per_community(work, "month", "retirees_per_full_time_staff")
    assert chart(page, "chart-turnover")["series"] == per_community(work, "month", "turnover")
    assert chart(page, "chart-training-hours")["series"] == per_community(work, "month", "training_hours")
    assert chart(page, "chart-certified")["series"] == per_community(data["standards"], "year", "certified_share")
    ratings = data["satisfaction"]
    distribution = chart(page, "chart-sat-dist")
    assert distribution["x"] == SCORES
    assert distribution["series"]["distribution"] == [sum(r["distribution"][s] for r in ratings) for s in SCORES]
    mean = chart(page, "chart-sat-mean")
    counts = summed(ratings, "month", lambda r: r["count"])
    points = summed(ratings, "month", lambda r: sum(int(s) * r["distribution"][s] for s in SCORES))
    assert mean["x"] == axis(ratings, "month")
    assert mean["series"]["count"] == counts
    assert mean["series"]["mean"] == pytest.approx([p / c if c else None for p, c in zip(points, counts, strict=True)])
    pensions = chart(page, "chart-pensions")
    assert pensions["x"] == axis(data["pensions"], "month")
    assert pensions["series"] == per_community(data["pensions"], "month", "total_monthly_pension")
    adjustments = chart(page, "chart-adjustments")["series"]
    assert adjustments["adjustments"] == summed(data["pensions"], "month", lambda r: r["adjustments"])
    assert adjustments["adjustments_sum"] == [float(cents) for cents in summed(
        data["pensions"], "month", lambda r: Decimal(r["adjustments_sum"]))]
    assert chart(page, "chart-funding")["series"] == per_community(data["funding"], "year", "total")
    assert table_values(page, "communities") == expected_communities(work)
    assert list(table_values(page, "lowest").items()) == list(expected_lowest(ratings).items())


def table_values(page: Page, table: str) -> dict[str, list[str]]:
    """Per ``data-community`` row: each cell's ``data-value`` (or its text), without the first (the name)."""
    lines: list[list[str]] = page.eval_on_selector_all(f"#{table} tbody tr", """trs => trs.map(tr =>
        [tr.dataset.community, ...[...tr.cells].slice(1).map(td => td.dataset.value ?? td.textContent)])""")
    return {line[0]: line[1:] for line in lines}


def js_number(value: float) -> str:
    """How JavaScript's String() writes a number (``2.0`` is "2")."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def expected_communities(work: Rows) -> dict[str, list[str]]:
    by_community: dict[str, Rows] = defaultdict(list)
    for row in work:
        by_community[row["community"]].append(row)
    expected = {}
    for community, own in by_community.items():
        end = max(own, key=lambda r: r["month"])
        expected[community] = [end["city"], *(js_number(end[f]) for f in (
            "retirees_managed", "full_time_staff", "retirees_per_full_time_staff", "turnover")), *(
            js_number(sum(r[f] for r in own)) for f in (
                "transfers_in", "transfers_out", "services_total", "service_minutes", "training_hours"))]
    return expected


def expected_lowest(ratings: Rows) -> dict[str, list[str]]:
    """The five communities with the lowest mean of all their ratings: count, mean (two places), distribution."""
    by_community: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SCORES, 0))
    for row in ratings:
        for score in SCORES:
            by_community[row["community"]][score] += row["distribution"][score]
    means = {community: sum(int(s) * n for s, n in dist.items()) / sum(dist.values())
             for community, dist in by_community.items() if sum(dist.values())}
    city = {row["community"]: row["city"] for row in ratings}
    lowest = sorted(means, key=lambda community: (means[community], community))[:5]
    return {community: [city[community], str(sum(by_community[community].values())),
                        js_number(math.floor(means[community] * 100 + 0.5) / 100),
                        " / ".join(str(by_community[community][s]) for s in SCORES)] for community in lowest}


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


def test_an_agency_finds_its_city_retirees_and_is_told_verification_is_for_auditors(page: Page, site: Site) -> None:
    sign_in(page, site, "agency_cs", query="?view=find")
    listed = site.get("agency_cs", "/v1/retirees", limit=50)["retirees"]
    assert {row["city"] for row in listed} == {"Changsha"}
    shown = page.eval_on_selector_all("#directory a[data-retiree]", "links => links.map(a => a.dataset.retiree)")
    assert shown == [row["retiree_id"] for row in listed]
    page.click(f"#directory a[data-retiree='{listed[0]['retiree_id']}']")
    settled(page)
    history = site.get("agency_cs", f"/v1/retirees/{listed[0]['retiree_id']}/history", limit=1000)
    assert page.eval_on_selector_all("#timeline tbody tr", "trs => trs.map(tr => +tr.dataset.seq)") == [
        entry["seq"] for entry in history]
    assert page.get_attribute("#verify-status", "data-ok") == ""
    assert "403" in (page.text_content("#verify-status") or "")


def test_a_lookup_by_id_number_opens_the_retiree_without_the_number_in_any_url(page: Page, site: Site) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, site, "agency_cs", query="?view=find")
    chosen = site.get("agency_cs", "/v1/retirees", limit=2)["retirees"][1]["retiree_id"]
    id_number = site.get("agency_cs", f"/v1/retirees/{chosen}")["id_number"]
    assert len(id_number) == 18, "an agency reads the ID numbers of its city's retirees"
    page.fill("#id-number", "430104195805121226")  # a valid number that no retiree has
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#lookup-message:not([hidden])")
    assert text(page, "#lookup-message").startswith("未找到")
    page.fill("#id-number", id_number)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_url(f"**retiree={chosen}")
    settled(page)
    assert text(page, "#panel-retiree h2 code") == chosen
    assert page.get_attribute("#state-now [data-field=id_number]", "data-value") == id_number
    assert all(id_number not in url for url in [*requested, page.url])


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


def flattened(state: dict[str, Any]) -> dict[str, str]:
    """A retiree's state as the page lists it: ``services`` left out, lists joined, absent values empty."""
    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in value)
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return {key: shown(value) for key, value in state.items() if key != "services"}


def test_a_retiree_page_shows_the_history_the_state_as_of_a_date_and_its_proof(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.click("#nav-find")
    settled(page)
    assert page.is_visible("#f-city") and not page.is_visible("#f-service_type")
    first = site.get("auditor", "/v1/retirees", limit=1)["retirees"][0]["retiree_id"]
    assert page.get_attribute("#directory tbody tr:first-child a", "data-retiree") == first
    page.click(f"#directory a[data-retiree='{first}']")
    settled(page)
    assert query(page) == {"view": "retiree", "retiree": first}
    assert not page.is_visible("#filters"), "a retiree's page has no overview filters"

    history = site.get("auditor", f"/v1/retirees/{first}/history", limit=1000)
    timeline = page.eval_on_selector_all("#timeline tbody tr", """trs => trs.map(tr =>
        [+tr.dataset.seq, +tr.cells[1].dataset.value, tr.cells[6].title])""")
    assert timeline == [[e["seq"], e["version"], e["hash"]] for e in history]
    assert page.get_attribute("#timeline-count", "data-value") == str(len(history))
    now = site.get("auditor", f"/v1/retirees/{first}")
    shown_now = page.eval_on_selector_all("#state-now dd", "dds => dds.map(d => [d.dataset.field, d.dataset.value])")
    assert dict(shown_now) == flattened(now)

    assert page.get_attribute("#verify-status", "data-ok") == "true"
    checkpoint = site.get("auditor", "/v1/audit/checkpoints/latest")
    assert page.get_attribute("#checkpoint-facts [data-field=root_hash]", "data-value") == checkpoint["root_hash"]
    proved = [e for e in history if e["seq"] <= checkpoint["tree_size"]][-1]
    assert page.get_attribute("#inclusion-facts [data-field=proved_event]", "data-value") == str(proved["seq"])
    assert page.get_attribute("#inclusion-leaf", "data-ok") == "true"
    assert page.get_attribute("#inclusion-root", "data-ok") == "true"
    proof = site.get("auditor", "/v1/audit/proof/inclusion", seq=proved["seq"], tree_size=checkpoint["tree_size"])
    checks = page.evaluate("""async ([proof, root, hash]) => {
        const m = await import("/static/dashboard/merkle.js");
        const wrong = root.replace(/^./, c => (c === "0" ? "1" : "0"));
        return [await m.rootMatches(proof, root), await m.rootMatches(proof, wrong),
                await m.leafMatches(hash, proof), await m.leafMatches(wrong, proof)]; }""",
                           [proof, checkpoint["root_hash"], proved["hash"]])
    assert checks == [True, False, True, False], "the browser's proof check tells a wrong root or leaf"

    chosen = "2012-06-30"
    page.fill("#as-of", chosen)
    page.click("#as-of-form button[type=submit]")
    settled(page)
    assert query(page) == {"view": "retiree", "retiree": first, "as_of": chosen}
    past = site.get("auditor", f"/v1/retirees/{first}", as_of=chosen)
    assert past["version"] < now["version"]
    shown_past = page.eval_on_selector_all("#state-as-of dd", "dds => dds.map(d => [d.dataset.field, d.dataset.value])")
    assert dict(shown_past) == flattened(past)
    page.click("#lang")
    settled(page)
    assert text(page, "#panel-timeline h2").startswith("Timeline")
    assert page.get_attribute("#state-as-of [data-field=version]", "data-value") == str(past["version"])


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
