"""Merging the parts of rows that sum across partitions (``projections.shards``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import typer

from cli.worker import owned_partitions
from projections import registry
from projections.base import bump
from projections.rows import BatchRows
from projections.shards import SHARD, Sharded, latest, merged, shared_kinds, summed
from projections.store import ViewRow
from projections.store.memory import InMemoryViewStore


def test_summed_adds_counters_and_amounts_field_by_field_and_drops_what_cancels_out() -> None:
    parts = [{"managed": 2, "total": "2100.00", "staff": 1}, {"managed": -2, "total": "150.50"}, {"staff": 2}]
    assert summed(parts) == {"total": "2250.50", "staff": 3}
    assert summed([{"managed": 1}, {"managed": -1}]) is None
    assert summed([{"total": "0.00", "n": 1}]) == {"total": "0.00", "n": 1}  # one part is kept as stored


def test_latest_keeps_the_part_with_the_greatest_field() -> None:
    assert latest("day")([{"day": "2024-03-01"}, {"day": "2025-01-31"}, {"day": "2024-12-31"}]) == {"day": "2025-01-31"}


def test_merged_gathers_the_parts_under_the_bare_key_and_keeps_the_order() -> None:
    rows = [ViewRow("community", "c1", {"code": "A"}), ViewRow("month", "A|2024-01", {"n": 1}),
            ViewRow("month", f"A|2024-01{SHARD}0", {"n": 2}), ViewRow("month", f"A|2024-02{SHARD}1", {"n": 1}),
            ViewRow("month", f"B|2024-01{SHARD}2", {"n": -1}), ViewRow("month", f"B|2024-01{SHARD}0", {"n": 1}),
            ViewRow("retiree", "r1", {"x": 1})]
    assert merged(rows, {"month": summed}) == [
        ViewRow("community", "c1", {"code": "A"}), ViewRow("month", "A|2024-01", {"n": 3}),
        ViewRow("month", "A|2024-02", {"n": 1}), ViewRow("retiree", "r1", {"x": 1})]
    assert merged(rows, {}) is rows


def test_a_partitions_rows_write_their_part_of_shared_kinds_and_the_rest_as_they_are() -> None:
    store = InMemoryViewStore()
    rows = BatchRows(store, "workload")
    sharded = Sharded(rows, {"month": summed})
    for shard, amount in (("0", Decimal("1.50")), ("2", Decimal("2.25")), ("0", Decimal("1.00"))):
        sharded.shard = shard
        rows.begin(1)
        bump(sharded, "month", "A|2024-01", {"minutes": 30, "amount": amount})
        sharded.put("community", "c1", {"code": "A"})
        rows.keep()
    store.apply("workload", 1, rows.changes(), {"kafka:0": 3})
    assert [(r.kind, r.key) for r in store.rows("workload")] == [
        ("community", "c1"), ("month", f"A|2024-01{SHARD}0"), ("month", f"A|2024-01{SHARD}2")]
    assert merged(store.rows("workload"), {"month": summed})[1].data == {"minutes": 90, "amount": "4.75"}


def test_every_registered_view_declares_which_of_its_kinds_sum_across_partitions() -> None:
    declared = {p.name: sorted(shared_kinds(p)) for p in registry.ALL}
    assert declared == {"audit": [], "workload": ["month"], "satisfaction": ["cell"], "pensions": ["month"],
                        "standards": ["year"], "compliance": ["meta"], "training": ["meta"], "funding": ["meta"],
                        "directory": []}


@pytest.mark.parametrize(("given", "owned"), [("0", [0]), ("0,2", [0, 2]), ("1-3", [1, 2, 3]), (" 2, 0-1 ", [0, 1, 2])])
def test_partitions_are_given_as_numbers_and_ranges(given: str, owned: list[int]) -> None:
    assert owned_partitions(given) == owned


@pytest.mark.parametrize("given", ["", "a", "3-1", "-1", "1-x", ","])
def test_a_partition_list_that_is_not_one_is_refused(given: str) -> None:
    with pytest.raises(typer.BadParameter):
        owned_partitions(given)
