"""The pension roll's shortcut for the latest adjustment writes the same rows, byte for byte, as
recomputing the retiree's whole contribution (``retiree_cells`` before and after)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.base import Cells, Row, apply_difference, bump_cells
from projections.pensions import _latest_adjustment_cells, in_force, retiree_cells

MONTHS = [f"2020-{m:02d}" for m in range(1, 13)] + [f"2021-{m:02d}" for m in range(1, 13)]
AMOUNTS = ["1000.00", "1250.50", "980.10", "1500.00", "2000.00"]


class DictRows:
    """Rows in a dict, encoded as the runner's rows are (so field order and strings show)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], bytes] = {}

    @property
    def seq(self) -> int:
        return 0

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self.data.get((kind, key))
        return None if found is None else orjson.loads(found)  # type: ignore[no-any-return]

    def put(self, kind: str, key: str, row: dict[str, Any]) -> None:
        self.data[(kind, key)] = orjson.dumps(row)

    def delete(self, kind: str, key: str) -> None:
        self.data.pop((kind, key), None)


@st.composite
def lives(draw: st.DrawFn) -> Row:
    day = st.sampled_from(MONTHS).map(lambda m: m + "-15")
    placements = draw(st.lists(st.tuples(st.sampled_from(["C1", "C2", "C3"]), day), min_size=0, max_size=3))
    death = draw(st.none() | day)
    adjustments = draw(st.lists(st.tuples(st.sampled_from(MONTHS), st.sampled_from(AMOUNTS),
                                          st.sampled_from(AMOUNTS)), max_size=4))
    statuses = draw(st.lists(st.tuples(st.sampled_from(MONTHS), st.sampled_from(["suspended", "active"])),
                             max_size=3))
    return {"placements": [list(p) for p in placements], "death": death,
            "enrolled_amount": draw(st.sampled_from(AMOUNTS)),
            "adjustments": [list(a) for a in adjustments], "statuses": [list(s) for s in statuses]}


def _rows_after(life: Row, step: Cells | None, adjustment: list[str]) -> dict[tuple[str, str], bytes]:
    rows = DictRows()
    before = retiree_cells(life)
    apply_difference(rows, "month", {}, before)
    changed = {**life, "adjustments": [*life["adjustments"], adjustment]}
    if step is None:
        apply_difference(rows, "month", before, retiree_cells(changed))
    else:
        bump_cells(rows, "month", step)
    return rows.data


@settings(max_examples=400, deadline=None)
@given(lives(), st.sampled_from(MONTHS), st.sampled_from(AMOUNTS), st.sampled_from(AMOUNTS))
def test_the_latest_adjustment_moves_the_rows_as_a_full_recomputation(
        life: Row, effective: str, new: str, previous: str) -> None:
    step = _latest_adjustment_cells(life, effective, new, previous)
    points = [a[0] for a in life["adjustments"]] + [s[0] for s in life["statuses"]]
    assert (step is None) == any(p > effective for p in points)
    adjustment = [effective, new, previous]
    assert _rows_after(life, step, adjustment) == _rows_after(life, None, adjustment)


def test_amounts_without_two_decimals_take_the_full_recomputation() -> None:
    life = {"placements": [["C1", "2020-01-15"]], "death": None, "enrolled_amount": "1000",
            "adjustments": [], "statuses": []}
    assert _latest_adjustment_cells(life, "2020-05", "1100.00", "1000") is None


def folded(life: Row, at: str) -> dict[str, Any]:
    """The amount and status in force at the end of month ``at``, by folding the whole history in recorded order."""
    amount, status = life["enrolled_amount"], "active"
    for effective, new, _ in life["adjustments"]:
        if effective <= at:
            amount = new
    for effective, kind in life["statuses"]:
        if effective <= at:
            status = kind
    if status == "suspended":
        return {"suspended": 1}
    return {"total_monthly_pension": Decimal(amount), "pensions_in_payment": 1}


@settings(max_examples=400, deadline=None)
@given(lives(), st.lists(st.tuples(st.sampled_from(MONTHS), st.sampled_from(AMOUNTS), st.sampled_from(AMOUNTS)),
                         max_size=12))
def test_what_is_in_force_is_the_last_recorded_of_what_took_effect_by_then(
        life: Row, more: list[tuple[str, str, str]]) -> None:
    life = {**life, "adjustments": [*life["adjustments"], *(list(a) for a in more)]}  # ties and reorders
    value = in_force(life)
    for at in ["2019-12", *MONTHS, "2022-01"]:
        assert value(at) == folded(life, at)
