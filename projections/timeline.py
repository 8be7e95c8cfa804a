"""Where a retiree was managed, and when: pure helpers over a view's per-retiree row.

Views that attribute facts to communities keep a small "life" row per retiree::

    {"placements": [[community, "YYYY-MM-DD"], ...], "death": "YYYY-MM-DD" | None, ...}

and recompute the retiree's contribution to period rows from it whenever it changes, so facts
recorded late with an earlier business date (a relocation or death dated back) still land in
the right community and period.

Conventions (DESIGN.md section 5: "at month end counts state on the month's last day"):

* on a day, the retiree belongs to the community of the last placement on or before it, and to
  none after the date of death (the domain's ``Retiree.community_on``);
* at the end of a period (month, year) the retiree counts for the community holding them then;
  a retiree who died in the period, or relocated in it, no longer counts for the old community.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from projections.base import Amount, Cells, Row, Rows, add_cell, apply_difference, bump

Stint = tuple[str, str, str | None]
"""(community, since, until): days ``since <= day < until``; ``until`` None = still managed."""

Period = Callable[[str], str]


def month(day: str) -> str:
    """The ``YYYY-MM`` of an ISO date."""
    return day[:7]


def year(day: str) -> str:
    return day[:4]


def new_life(**extra: Any) -> Row:
    return {"placements": [], "death": None, **extra}


def stints(life: Row) -> list[Stint]:
    """The retiree's placements as day ranges; placements dated after death never took effect."""
    placements = sorted(life["placements"], key=lambda p: str(p[1]))
    death: str | None = life.get("death")
    found: list[Stint] = []
    for index, (community, since) in enumerate(placements):
        if death is not None and since > death:
            break
        until = placements[index + 1][1] if index + 1 < len(placements) else None
        if death is not None and (until is None or death < until):
            until = death
        found.append((community, since, until))
    return found


def community_on(life: Row, day: str) -> str | None:
    """The community that managed the retiree on ``day`` (the day of death still counts)."""
    death = life.get("death")
    if death is not None and day > death:
        return None
    current = None
    for community, since in sorted(life["placements"], key=lambda p: str(p[1])):
        if since <= day:
            current = community
    return current


def period_stints(life: Row, period: Period) -> list[Stint]:
    """Stints in periods: (community, first period counted at its end, first period not counted)."""
    found: list[Stint] = []
    for community, since, until in stints(life):
        start, end = period(since), (period(until) if until is not None else None)
        if end is None or start < end:
            found.append((community, start, end))
    return found


def holder(spans: list[Stint], at: str) -> str | None:
    """The community counting the retiree at the end of period ``at`` (from ``period_stints``)."""
    for community, start, end in spans:
        if start <= at and (end is None or at < end):
            return community
    return None


def step_cells(
    spans: list[Stint],
    value: Callable[[str], dict[str, Amount]],
    changes: Iterable[str],
    key: Callable[[str, str], str],
) -> Cells:
    """Running-total deltas of a value held at period ends.

    For each span, ``value(period)`` is what the retiree adds to the community's totals at that
    period's end; it may change only at the periods in ``changes``. The cells hold the changes
    (value minus the previous value) so that summing them up to a period gives the total.
    """
    cells: Cells = {}
    points = sorted(set(changes))
    for community, start, end in spans:
        previous: dict[str, Amount] = {}
        for at in [start, *(p for p in points if start < p and (end is None or p < end))]:
            current = value(at)
            for field in sorted(current.keys() | previous.keys()):
                change = current.get(field, 0) - previous.get(field, 0)
                if change:
                    add_cell(cells, key(community, at), field, change)
            previous = current
        if end is not None:
            for field, amount in previous.items():
                if amount:
                    add_cell(cells, key(community, end), field, -amount)
    return cells


def life_of(rows: Rows, retiree_id: str) -> Row:
    life = rows.get("retiree", retiree_id)
    if life is None:
        raise LookupError(f"retiree {retiree_id} has no Enrolled event before this one")
    return life


def update_life(
    rows: Rows, retiree_id: str, change: Callable[[Row], None], contribution: Callable[[Row], Cells], kind: str
) -> None:
    """Changes a retiree's life row and moves their contribution to the ``kind`` rows along with it."""
    life = life_of(rows, retiree_id)
    old = contribution(life)
    change(life)
    apply_difference(rows, kind, old, contribution(life))
    rows.put("retiree", retiree_id, life)


def add_item(
    rows: Rows, retiree_id: str, field: str, item: Any, item_cells: Callable[[Row, Any], Cells], kind: str
) -> None:
    """Appends an item that adds to the period rows on its own (a rating, a certification).

    Only the item's own cells are added: the contribution of the retiree's other items does not
    depend on it. ``item_cells`` must be the function the view's full contribution sums over.
    """
    life = life_of(rows, retiree_id)
    life[field].append(item)
    for key, amounts in item_cells(life, item).items():
        bump(rows, kind, key, amounts)
    rows.put("retiree", retiree_id, life)


def placed(community: str, day: str) -> Callable[[Row], None]:
    return lambda life: life["placements"].append([community, day])


def died(day: str) -> Callable[[Row], None]:
    return lambda life: life.update(death=day)
