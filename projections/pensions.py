"""Pension roll: per retiree, and community x month (DESIGN.md section 5).

Rows:

* ``("community", stream id)``: code, name, city, ... (from ``Registered``);
* ``("retiree", retiree id)``: the current pension (``monthly_pension``, ``pension_status``,
  ``community``, ``stage``, ``agency``) and the timeline behind the month rows: placements, death,
  the enrolled amount, ``adjustments`` ``[[effective_month, new, previous], ...]`` and
  ``statuses`` ``[[effective_month, "suspended" | "active"], ...]`` in recorded order;
* ``("month", "CODE|YYYY-MM")``: ``total_monthly_pension`` (Decimal string), ``pensions_in_payment``
  and ``suspended`` are changes to running totals over the retirees the community manages at
  month end; ``adjustments`` and ``adjustments_sum`` (sum of new - previous, Decimal string) count
  the adjustments effective that month, for the community managing the retiree at its end.

The amount and status in force in a month fold, in recorded order, the adjustments and
suspensions effective in or before it (as ``Ledger.retiree(as_of=...)`` does). A suspended
pension counts in ``suspended``, not in the total.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import ClassVar

from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.domain.values import PensionStatus, Stage
from projections.base import (
    Amount,
    Cells,
    Dispatching,
    Handler,
    Row,
    Rows,
    add_cell,
    bump_cells,
    cell_key,
    community_row,
    move_contribution,
    stream_id,
)
from projections.shards import Merge, summed
from projections.timeline import died, holder, life_of, month, new_life, period_stints, placed, step_cells

NAME = "pensions"
RUNNING = ("total_monthly_pension", "pensions_in_payment", "suspended")
MONEY = ("total_monthly_pension", "adjustments_sum")


def in_force(life: Row) -> Callable[[str], dict[str, Amount]]:
    """What the retiree adds at the end of month ``at``: the amount and status in force then, each the
    last in recorded order of those effective in or before ``at`` (the enrolled amount, active, if
    none). Built once per life: each lookup is a binary search instead of a pass over the history."""
    amount_at = _last_recorded(life["adjustments"], 1, life["enrolled_amount"])
    status_at = _last_recorded(life["statuses"], 1, PensionStatus.ACTIVE.value)

    def value(at: str) -> dict[str, Amount]:
        if status_at(at) == PensionStatus.SUSPENDED:
            return {"suspended": 1}
        return {"total_monthly_pension": Decimal(amount_at(at)), "pensions_in_payment": 1}

    return value


def _last_recorded(items: list[list[str]], field: int, default: str) -> Callable[[str], str]:
    """``at -> items[i][field]`` for the largest index ``i`` whose ``items[i][0] <= at`` (``default`` if none)."""
    months: list[str] = []
    latest: list[int] = []  # per distinct month, ascending: the largest index effective by then
    for index in sorted(range(len(items)), key=lambda i: items[i][0]):
        best = max(index, latest[-1]) if latest else index
        if months and months[-1] == items[index][0]:
            latest[-1] = best
        else:
            months.append(items[index][0])
            latest.append(best)

    def at(month_: str) -> str:
        found = bisect_right(months, month_)
        return default if found == 0 else items[latest[found - 1]][field]

    return at


def retiree_cells(life: Row) -> Cells:
    """What one retiree adds to the month rows of the communities that managed them."""
    spans = period_stints(life, month)
    changes = [a[0] for a in life["adjustments"]] + [s[0] for s in life["statuses"]]
    cells = step_cells(spans, in_force(life), changes, cell_key)
    for effective, new, previous in life["adjustments"]:
        community = holder(spans, effective)
        if community is not None:
            add_cell(cells, cell_key(community, effective), "adjustments", 1)
            add_cell(cells, cell_key(community, effective), "adjustments_sum", Decimal(new) - Decimal(previous))
    return cells


def _change(rows: Rows, event: Retiree.Event, change: Callable[[Row], None]) -> None:
    move_contribution(rows, stream_id(event), change, retiree_cells, "month")


def _registered(rows: Rows, e: Community.Registered) -> None:
    rows.put("community", stream_id(e), community_row(e))


def _enrolled(rows: Rows, e: Retiree.Enrolled) -> None:
    amount = str(e.monthly_pension)
    rows.put("retiree", stream_id(e), new_life(
        enrolled_amount=amount, adjustments=[], statuses=[], monthly_pension=amount,
        pension_status=PensionStatus.ACTIVE.value, stage=Stage.DANWEI.value, community=None, agency=e.agency,
    ))


def _transferred(rows: Rows, e: Retiree.TransferredToCommunity) -> None:
    def change(life: Row) -> None:
        placed(e.community, e.effective_date.isoformat())(life)
        life.update(community=e.community, stage=Stage.COMMUNITY.value)

    _change(rows, e, change)


def _relocated(rows: Rows, e: Retiree.Relocated) -> None:
    def change(life: Row) -> None:
        placed(e.to_community, e.effective_date.isoformat())(life)
        life["community"] = e.to_community

    _change(rows, e, change)


def _adjusted(rows: Rows, e: Retiree.PensionAdjusted) -> None:
    adjustment = [e.effective_month, str(e.new_amount), str(e.previous_amount)]

    def change(life: Row) -> None:
        life["adjustments"].append(adjustment)
        life["monthly_pension"] = adjustment[1]

    retiree_id = stream_id(e)
    life = life_of(rows, retiree_id)
    step = _latest_adjustment_cells(life, *adjustment)
    if step is None:
        _change(rows, e, change)
        return
    bump_cells(rows, "month", step)
    change(life)
    rows.put("retiree", retiree_id, life)


_CENTS = re.compile(r"(?:[0-9]+\.[0-9][0-9]\|)*[0-9]+\.[0-9][0-9]")
"""Amounts joined by ``|``, each written with exactly two decimals (as ``ledger.domain.values.money``
quantizes): Decimal sums of such amounts keep two decimals, whichever amounts they add."""


def _latest_adjustment_cells(life: Row, effective: str, new: str, previous: str) -> Cells | None:
    """What an adjustment effective at or after every recorded adjustment and status change adds to
    ``retiree_cells(life)`` (the usual case, without recomputing the life); None in any other case.

    From ``effective`` on, the amount in force becomes ``new`` for good and the status stays the last
    one, so the running total of each stint still managed then steps by ``new`` minus the amount in
    force before, from ``effective`` (or the stint's start, if later) to the stint's end.
    """
    adjustments, statuses = life["adjustments"], life["statuses"]
    if any(a[0] > effective for a in adjustments) or any(s[0] > effective for s in statuses):
        return None
    amounts = [life["enrolled_amount"], new, previous, *(a[1] for a in adjustments), *(a[2] for a in adjustments)]
    if not _CENTS.fullmatch("|".join(amounts)):  # other exponents: the full recomputation gives the strings
        return None
    cells: Cells = {}
    spans = period_stints(life, month)
    if not statuses or statuses[-1][1] != PensionStatus.SUSPENDED:
        step = Decimal(new) - Decimal(adjustments[-1][1] if adjustments else life["enrolled_amount"])
        for community, start, end in spans:
            if end is None or end > effective:
                add_cell(cells, cell_key(community, max(start, effective)), "total_monthly_pension", step)
                if end is not None:
                    add_cell(cells, cell_key(community, end), "total_monthly_pension", -step)
    managing = holder(spans, effective)
    if managing is not None:
        add_cell(cells, cell_key(managing, effective), "adjustments", 1)
        add_cell(cells, cell_key(managing, effective), "adjustments_sum", Decimal(new) - Decimal(previous))
    return cells


def _status(kind: PensionStatus) -> Handler:
    def handle(rows: Rows, e: Retiree.PensionSuspended | Retiree.PensionResumed) -> None:
        def change(life: Row) -> None:
            life["statuses"].append([e.effective_month, kind.value])
            life["pension_status"] = kind.value

        _change(rows, e, change)

    return handle


def _deceased(rows: Rows, e: Retiree.Deceased) -> None:
    def change(life: Row) -> None:
        died(e.date_of_death.isoformat())(life)
        life.update(pension_status=PensionStatus.ENDED.value, stage=Stage.DECEASED.value)

    _change(rows, e, change)


class PensionsView(Dispatching):
    """The pension roll; see the module docstring for the rows."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = {"month": summed}  # summed across partitions (projections.shards)
    handlers: ClassVar[Mapping[str, Handler]] = {
        "Registered": _registered,
        "Enrolled": _enrolled,
        "TransferredToCommunity": _transferred,
        "Relocated": _relocated,
        "PensionAdjusted": _adjusted,
        "PensionSuspended": _status(PensionStatus.SUSPENDED),
        "PensionResumed": _status(PensionStatus.ACTIVE),
        "Deceased": _deceased,
    }

