"""The dashboard's retiree pages in a real headless Chromium: the directory, a lookup by ID number, the
timeline equal to the API's history, the state as of a chosen date, and the verification status with an
inclusion proof checked in the browser; an agency's view of the same page.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Site, settled, sign_in
from tests.browser.expected import query, text

pytestmark = pytest.mark.browser


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
    assert page.is_visible("#f-city")
    assert not page.is_visible("#f-service_type") and not page.is_visible("#f-month_from"), "overview filters only"
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


def test_the_directory_follows_the_city_filter_and_pages_on(page: Page, site: Site) -> None:
    sign_in(page, site, query="?view=find")
    page.select_option("#f-city", "Changsha")
    page.click("#filters button[type=submit]")
    settled(page)
    assert query(page) == {"view": "find", "city": "Changsha"}
    first = site.get("auditor", "/v1/retirees", city="Changsha", limit=50)
    listed = "links => links.map(a => a.dataset.retiree)"
    assert page.eval_on_selector_all("#directory a[data-retiree]", listed) == [
        row["retiree_id"] for row in first["retirees"]]
    assert first["next"] and page.is_visible("#directory-more")
    following = site.get("auditor", "/v1/retirees", city="Changsha", limit=50, cursor=first["next"])
    page.click("#directory-more")
    page.wait_for_function("n => document.querySelectorAll('#directory tbody tr').length === n",
                           arg=len(first["retirees"]) + len(following["retirees"]))
    assert page.eval_on_selector_all("#directory a[data-retiree]", listed) == [
        row["retiree_id"] for row in first["retirees"] + following["retirees"]]
