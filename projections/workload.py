"""Community workload: community x month (DESIGN.md section 5).

Rows (all keyed by business dates, never by recording time):

* ``("community", stream id)``: code, name, city, district, kind (from ``Registered``);
* ``("retiree", retiree id)``: placements, death and certification dates (see ``timeline``);
* ``("staff", "CODE|staff_id")``: role and qualification of the current stint;
* ``("month", "CODE|YYYY-MM")``: counters. ``managed``, ``staff``, ``full_time_staff`` and
  ``qualified_social_workers`` are changes to running totals (sum them up to a month for its
  month-end figure); all other fields count what happened in the month: ``transfers_in``
  (transfers from the danwei and relocations in), ``transfers_out`` (relocations away and
  deaths), ``certifications`` (by the community managing the retiree that day),
  ``service:<type>``, ``service_minutes``, ``staff_joined`` / ``staff_left`` (all roles),
  ``full_time_left``, ``training_hours``.

Staff who leave in a month, like retirees who die or move away in it, are not counted at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.domain.values import StaffRole
from projections.base import (
    Cells,
    Dispatching,
    Handler,
    Row,
    Rows,
    add_cell,
    bump,
    cell_key,
    community_row,
    merge_cells,
    move_contribution,
    stream_id,
)
from projections.shards import Merge, summed
from projections.timeline import (
    add_item,
    community_on,
    died,
    month,
    new_life,
    period_stints,
    placed,
    step_cells,
    stints,
)

NAME = "workload"
RUNNING = ("managed", "staff", "full_time_staff", "qualified_social_workers")
SERVICE_PREFIX = "service:"


def retiree_cells(life: Row) -> Cells:
    """Everything one retiree adds to the month rows, from their life row."""
    spans = period_stints(life, month)
    cells = step_cells(spans, lambda _: {"managed": 1}, (), cell_key)
    for community, since, until in stints(life):
        add_cell(cells, cell_key(community, month(since)), "transfers_in", 1)
        if until is not None:
            add_cell(cells, cell_key(community, month(until)), "transfers_out", 1)
    for day in life["certified"]:
        merge_cells(cells, certification_cells(life, day))
    return cells


def certification_cells(life: Row, day: str) -> Cells:
    holder = community_on(life, day)
    return {} if holder is None else {cell_key(holder, month(day)): {"certifications": 1}}


def _change(rows: Rows, event: Retiree.Event, change: Callable[[Row], None]) -> None:
    move_contribution(rows, stream_id(event), change, retiree_cells, "month")


def _code(rows: Rows, event: Community.Event) -> str:
    community = rows.get("community", stream_id(event))
    if community is None:
        raise LookupError(f"community stream {event.originator_id} has no Registered event before this one")
    return str(community["code"])


def _registered(rows: Rows, e: Community.Registered) -> None:
    rows.put("community", stream_id(e), community_row(e))


def _staff_joined(rows: Rows, e: Community.StaffJoined) -> None:
    code = _code(rows, e)
    full_time = e.role == StaffRole.FULL_TIME
    rows.put("staff", cell_key(code, e.staff_id), {"role": e.role, "qualified": e.qualified_social_worker})
    bump(rows, "month", cell_key(code, month(e.joined_on.isoformat())), {
        "staff": 1, "staff_joined": 1, "full_time_staff": int(full_time),
        "qualified_social_workers": int(e.qualified_social_worker),
    })


def _staff_left(rows: Rows, e: Community.StaffLeft) -> None:
    code = _code(rows, e)
    member = rows.get("staff", cell_key(code, e.staff_id))
    if member is None:
        raise LookupError(f"staff member {e.staff_id} of {code} never joined")
    full_time = int(member["role"] == StaffRole.FULL_TIME)
    bump(rows, "month", cell_key(code, month(e.left_on.isoformat())), {
        "staff": -1, "staff_left": 1, "full_time_staff": -full_time, "full_time_left": full_time,
        "qualified_social_workers": -int(member["qualified"]),
    })


def _trained(rows: Rows, e: Community.StaffTrained) -> None:
    bump(rows, "month", cell_key(_code(rows, e), month(e.completed_on.isoformat())), {"training_hours": e.hours})


def _enrolled(rows: Rows, e: Retiree.Enrolled) -> None:
    rows.put("retiree", stream_id(e), new_life(certified=[]))


def _transferred(rows: Rows, e: Retiree.TransferredToCommunity) -> None:
    _change(rows, e, placed(e.community, e.effective_date.isoformat()))


def _relocated(rows: Rows, e: Retiree.Relocated) -> None:
    _change(rows, e, placed(e.to_community, e.effective_date.isoformat()))


def _certified(rows: Rows, e: Retiree.EligibilityCertified) -> None:
    add_item(rows, stream_id(e), "certified", e.certified_on.isoformat(), certification_cells, "month")


def _deceased(rows: Rows, e: Retiree.Deceased) -> None:
    _change(rows, e, died(e.date_of_death.isoformat()))


def _service(rows: Rows, e: Retiree.ServiceDelivered) -> None:
    bump(rows, "month", cell_key(e.community, month(e.delivered_on.isoformat())), {
        SERVICE_PREFIX + e.service_type: 1, "service_minutes": e.duration_minutes,
    })


class WorkloadView(Dispatching):
    """Community x month workload figures; see the module docstring for the rows."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = {"month": summed}  # summed across partitions (projections.shards)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "Registered": _registered,
        "StaffJoined": _staff_joined,
        "StaffLeft": _staff_left,
        "StaffTrained": _trained,
        "Enrolled": _enrolled,
        "TransferredToCommunity": _transferred,
        "Relocated": _relocated,
        "EligibilityCertified": _certified,
        "Deceased": _deceased,
        "ServiceDelivered": _service,
    }

