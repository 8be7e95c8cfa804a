"""Retiree directory: one row per retiree, for finding retirees (issue 11).

Rows: ``("retiree", retiree id)`` with ``city`` and ``district`` (from ``Enrolled``), ``community``
(the managing community now: the last transfer or relocation recorded, None while danwei-managed;
kept after death, as the aggregate keeps it), ``stage``, ``pension_status`` and ``enrolled`` (the
retirement date, ISO). Never a name, an ID number, a birth date or sex (``ledger.privacy``): names
are encrypted at rest and are not searchable here; a retiree is found by ID number through the
ledger's keyed hash (``Ledger.find_retiree``).

:func:`page` answers ``GET /v1/retirees``: rows sorted by retiree id, filtered by exact field
values, a page after a cursor (the last retiree id of the previous page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.domain.retiree import Retiree
from ledger.domain.values import PensionStatus, Stage
from projections.base import Dispatching, Handler, Row, Rows, stream_id
from projections.store import ViewStore

NAME = "directory"
FIELDS = ("city", "district", "community", "stage", "pension_status", "enrolled")
FILTERED = ("city", "community", "stage", "pension_status")


def _change(rows: Rows, event: Retiree.Event, **values: Any) -> None:
    key = stream_id(event)
    row = rows.get("retiree", key)
    if row is None:
        raise LookupError(f"retiree {key} has no Enrolled event before this one")
    row.update(values)
    rows.put("retiree", key, row)


def _enrolled(rows: Rows, e: Retiree.Enrolled) -> None:
    rows.put("retiree", stream_id(e), {
        "city": e.city, "district": e.district, "community": None, "stage": Stage.DANWEI.value,
        "pension_status": PensionStatus.ACTIVE.value, "enrolled": e.retirement_date.isoformat(),
    })


def _transferred(rows: Rows, e: Retiree.TransferredToCommunity) -> None:
    _change(rows, e, community=e.community, stage=Stage.COMMUNITY.value)


def _relocated(rows: Rows, e: Retiree.Relocated) -> None:
    _change(rows, e, community=e.to_community)


def _suspended(rows: Rows, e: Retiree.PensionSuspended) -> None:
    _change(rows, e, pension_status=PensionStatus.SUSPENDED.value)


def _resumed(rows: Rows, e: Retiree.PensionResumed) -> None:
    _change(rows, e, pension_status=PensionStatus.ACTIVE.value)


def _deceased(rows: Rows, e: Retiree.Deceased) -> None:
    _change(rows, e, stage=Stage.DECEASED.value, pension_status=PensionStatus.ENDED.value)


class DirectoryView(Dispatching):
    """One row per retiree, no personal data; see the module docstring."""

    name = NAME
    version = 1
    handlers: ClassVar[Mapping[str, Handler]] = {
        "Enrolled": _enrolled,
        "TransferredToCommunity": _transferred,
        "Relocated": _relocated,
        "PensionSuspended": _suspended,
        "PensionResumed": _resumed,
        "Deceased": _deceased,
    }



@dataclass(frozen=True)
class Page:
    """``rows`` (each with ``retiree_id`` and ``FIELDS``); ``next``: the cursor of the next page, None on the last."""

    rows: list[Row]
    next: str | None


def page(store: ViewStore, wanted: Mapping[str, str | None], *, after: str | None = None, limit: int = 100,
         within: Mapping[str, str] | None = None) -> Page:
    """The rows whose fields equal every value in ``wanted`` (None: any) and in ``within`` (the caller's
    scope: e.g. ``{"city": "Changsha"}``), with ids above ``after``, at most ``limit`` of them.

    A filter and the scope naming different values of one field select nothing (never an error: the
    answer must not say what lies outside the scope). Fields not in ``FILTERED`` raise ``ValueError``.
    """
    required: dict[str, set[str]] = {}
    for source in (wanted, within or {}):
        for field, value in source.items():
            if field not in FILTERED:
                raise ValueError(f"the directory cannot be filtered by {field!r}")
            if value is not None:
                required.setdefault(field, set()).add(value)
    if any(len(values) > 1 for values in required.values()):
        return Page([], None)
    equal = {field: values.pop() for field, values in required.items()}
    found: list[Row] = []
    for row in store.rows(NAME, "retiree"):
        if after is not None and row.key <= after:
            continue
        if all(row.data.get(field) == value for field, value in equal.items()):
            found.append({"retiree_id": row.key, **{field: row.data.get(field) for field in FIELDS}})
            if len(found) > limit:
                return Page(found[:limit], found[limit - 1]["retiree_id"])
    return Page(found, None)
