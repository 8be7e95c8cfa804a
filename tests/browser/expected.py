"""What the dashboard should show, computed from the API's own rows, and how the tests read the page.

Expected figures follow what the page says it does: sums of returned fields, the rows of the last month,
one series per community; the page's figures are read from ``data-value`` attributes and from the ECharts
instances' options (:func:`tests.browser.conftest.chart`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Site, chart

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
