"""Satisfaction: community x service type x month (DESIGN.md section 5).

Rows:

* ``("community", stream id)``: code, name, city, ... (from ``Registered``);
* ``("service", "RETIREE|service_id")``: the community and type of each delivered service;
* ``("retiree", retiree id)``: placements, death and overall ratings ``[[rated_on, score], ...]``;
* ``("cell", "CODE|YYYY-MM|service_type")``: ``count``, ``sum`` and ``s1`` .. ``s5`` (how many
  ratings gave each score).

The month is that of ``rated_on``. A rating of a service counts for the community and type of
that service; an overall rating (no service) counts as service type ``overall`` for the community
managing the retiree on ``rated_on`` (an overall rating given while still with the danwei has no
community and is not counted here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from projections.base import (
    Cells,
    Dispatching,
    Handler,
    Row,
    Rows,
    bump,
    cell_key,
    community_row,
    merge_cells,
    move_contribution,
    stream_id,
)
from projections.shards import Merge, summed
from projections.timeline import add_item, community_on, died, month, new_life, placed

NAME = "satisfaction"
OVERALL = "overall"


def score_counts(score: int) -> dict[str, int]:
    return {"count": 1, "sum": score, f"s{score}": 1}


def retiree_cells(life: Row) -> Cells:
    """The overall ratings of one retiree, attributed to the community managing them that day."""
    cells: Cells = {}
    for rating in life["overall"]:
        merge_cells(cells, rating_cells(life, rating))
    return cells


def rating_cells(life: Row, rating: list[Any]) -> Cells:
    day, score = rating
    holder = community_on(life, day)
    return {} if holder is None else {cell_key(holder, month(day), OVERALL): dict(score_counts(score))}


def _change(rows: Rows, event: Retiree.Event, change: Callable[[Row], None]) -> None:
    move_contribution(rows, stream_id(event), change, retiree_cells, "cell")


def _registered(rows: Rows, e: Community.Registered) -> None:
    rows.put("community", stream_id(e), community_row(e))


def _enrolled(rows: Rows, e: Retiree.Enrolled) -> None:
    rows.put("retiree", stream_id(e), new_life(overall=[]))


def _transferred(rows: Rows, e: Retiree.TransferredToCommunity) -> None:
    _change(rows, e, placed(e.community, e.effective_date.isoformat()))


def _relocated(rows: Rows, e: Retiree.Relocated) -> None:
    _change(rows, e, placed(e.to_community, e.effective_date.isoformat()))


def _deceased(rows: Rows, e: Retiree.Deceased) -> None:
    _change(rows, e, died(e.date_of_death.isoformat()))


def _service(rows: Rows, e: Retiree.ServiceDelivered) -> None:
    row = {"community": e.community, "service_type": e.service_type}
    rows.put("service", cell_key(stream_id(e), e.service_id), row)


def _rated(rows: Rows, e: Retiree.SatisfactionRated) -> None:
    day = e.rated_on.isoformat()
    if e.service_id is None:
        add_item(rows, stream_id(e), "overall", [day, e.score], rating_cells, "cell")
        return
    service = rows.get("service", cell_key(stream_id(e), e.service_id))
    if service is None:
        raise LookupError(f"service {e.service_id} of retiree {e.originator_id} was never delivered")
    bump(rows, "cell", cell_key(service["community"], month(day), service["service_type"]), score_counts(e.score))


class SatisfactionView(Dispatching):
    """Ratings by community, service type and month; see the module docstring for the rows."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = {"cell": summed}  # summed across partitions (projections.shards)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "Registered": _registered,
        "Enrolled": _enrolled,
        "TransferredToCommunity": _transferred,
        "Relocated": _relocated,
        "Deceased": _deceased,
        "ServiceDelivered": _service,
        "SatisfactionRated": _rated,
    }

