"""Service standards: community x year (DESIGN.md section 5).

Rows:

* ``("community", stream id)``: code, name, city, ... (from ``Registered``);
* ``("retiree", retiree id)``: placements, death, ``age_80_year`` (the year in which the retiree
  turns 80; only the year of birth is kept), ``certified_years`` and ``q4_visit_years`` (years with a
  home visit between 1 October and 31 December);
* ``("year", "CODE|YYYY")``: ``managed`` and ``aged_80_plus`` are changes to running totals of the
  retirees the community manages at year end (aged 80+ = turning 80 in or before that year);
  ``certified`` counts those managed at year end who were certified for that year, and
  ``aged_80_plus_visited`` those managed at year end, aged 80+, with a home visit in its last quarter.

Shares (computed by ``projections.queries.standards``): certified / managed and
aged_80_plus_visited / aged_80_plus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.domain.values import ServiceType
from projections.base import (
    Amount,
    Cells,
    Dispatching,
    Handler,
    Row,
    Rows,
    cell_key,
    community_row,
    merge_cells,
    move_contribution,
    stream_id,
)
from projections.shards import Merge, summed
from projections.timeline import (
    add_item,
    died,
    holder,
    new_life,
    period_stints,
    placed,
    step_cells,
    year,
)

NAME = "standards"
RUNNING = ("managed", "aged_80_plus")
LAST_QUARTER_FIRST_MONTH = 10


def retiree_cells(life: Row) -> Cells:
    """What one retiree adds to the year rows of the communities that managed them."""
    spans = period_stints(life, year)
    age_80 = f"{life['age_80_year']:04d}"

    def counted(at: str) -> dict[str, Amount]:
        return {"managed": 1, "aged_80_plus": int(at >= age_80)}

    cells = step_cells(spans, counted, [age_80], cell_key)
    for certified in life["certified_years"]:
        merge_cells(cells, certified_cells(life, certified))
    for visited in life["q4_visit_years"]:
        merge_cells(cells, visited_cells(life, visited))
    return cells


def certified_cells(life: Row, certified: int) -> Cells:
    """Certified for a year: counts for the community managing the retiree at that year's end."""
    at = f"{certified:04d}"
    community = holder(period_stints(life, year), at)
    return {} if community is None else {cell_key(community, at): {"certified": 1}}


def visited_cells(life: Row, visited: int) -> Cells:
    """A Q4 home visit: counts if the retiree is 80+ and managed at that year's end."""
    at = f"{visited:04d}"
    community = holder(period_stints(life, year), at)
    if community is None or at < f"{life['age_80_year']:04d}":
        return {}
    return {cell_key(community, at): {"aged_80_plus_visited": 1}}


def _change(rows: Rows, event: Retiree.Event, change: Callable[[Row], None]) -> None:
    move_contribution(rows, stream_id(event), change, retiree_cells, "year")


def _registered(rows: Rows, e: Community.Registered) -> None:
    rows.put("community", stream_id(e), community_row(e))


def _enrolled(rows: Rows, e: Retiree.Enrolled) -> None:
    life = new_life(age_80_year=e.birth_date.year + 80, certified_years=[], q4_visit_years=[])
    rows.put("retiree", stream_id(e), life)


def _transferred(rows: Rows, e: Retiree.TransferredToCommunity) -> None:
    _change(rows, e, placed(e.community, e.effective_date.isoformat()))


def _relocated(rows: Rows, e: Retiree.Relocated) -> None:
    _change(rows, e, placed(e.to_community, e.effective_date.isoformat()))


def _deceased(rows: Rows, e: Retiree.Deceased) -> None:
    _change(rows, e, died(e.date_of_death.isoformat()))


def _certified(rows: Rows, e: Retiree.EligibilityCertified) -> None:
    add_item(rows, stream_id(e), "certified_years", e.year, certified_cells, "year")


def _service(rows: Rows, e: Retiree.ServiceDelivered) -> None:
    if e.service_type != ServiceType.HOME_VISIT or e.delivered_on.month < LAST_QUARTER_FIRST_MONTH:
        return
    life = rows.get("retiree", stream_id(e))
    if life is not None and e.delivered_on.year in life["q4_visit_years"]:
        return
    add_item(rows, stream_id(e), "q4_visit_years", e.delivered_on.year, visited_cells, "year")


class StandardsView(Dispatching):
    """Service-standard compliance by community and year; see the module docstring for the rows."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = {"year": summed}  # summed across partitions (projections.shards)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "Registered": _registered,
        "Enrolled": _enrolled,
        "TransferredToCommunity": _transferred,
        "Relocated": _relocated,
        "Deceased": _deceased,
        "EligibilityCertified": _certified,
        "ServiceDelivered": _service,
    }

