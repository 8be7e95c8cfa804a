"""Exports: the lists to fill in, read from the views, for a selection within the caller's scope. They carry
no personal data (no names, no ID numbers, no birth dates, no notes)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.domain.values import AdjustmentReason
from ledger.exchange import tables
from ledger.exchange.sheets.kinds import Kind, Language


class ViewRow(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


class Views(Protocol):
    """What exports read: a view's rows of one kind (``projections.store.ViewStore`` fits)."""

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> Sequence[ViewRow]: ...


VIEWS: dict[str, tuple[str, ...]] = {
    "certifications": ("directory", "workload"), "adjustments": ("directory", "pensions"), "services": (),
    "staff": ("training",), "training": ("training",), "funding": ("funding",),
}
"""The views each export reads (a reader waits until they caught up with the log)."""


@dataclass(frozen=True)
class Selection:
    """What an export lists: ``year`` (certifications, adjustments, funding), the ``community`` or ``city`` asked for,
    and ``within``, the caller's scope (``ledger.access.listed_retirees``: ``{"city": ...}``,
    ``{"community": ...}``, or ``{}`` for all). A filter outside the scope selects nothing."""

    year: int
    within: Mapping[str, str] = field(default_factory=dict)
    community: str | None = None
    city: str | None = None

    def admits(self, city: str | None, community: str | None) -> bool:
        wanted = {"city": self.city, "community": self.community}
        facts = {"city": city, "community": community}
        return all(value is None or facts[name] == value for name, value in wanted.items()) and all(
            facts.get(name) == value for name, value in self.within.items())


def _yes(value: bool, language: Language) -> str:
    return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")


def _retirees(views: Views, selection: Selection) -> list[tuple[str, dict[str, Any]]]:
    """Living retirees of the directory the selection admits, by community then retiree id."""
    found = [(row.key, row.data) for row in views.rows("directory", "retiree") if row.data.get("stage") != "deceased"
             and selection.admits(row.data.get("city"), row.data.get("community"))]
    return sorted(found, key=lambda item: (item[1].get("community") or "", item[0]))


def _certifications(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    days = {row.key: row.data.get("certified", []) for row in views.rows("workload", "retiree")}
    prefix = f"{selection.year:04d}-"
    found = []
    for retiree, data in _retirees(views, selection):
        on = next((d for d in days.get(retiree, []) if d.startswith(prefix)), None)
        found.append({"retiree_id": retiree, "city": data.get("city"), "community": data.get("community"),
                      "year": selection.year, "certified": _yes(on is not None, language),
                      "certified_on_recorded": on})
    return found


def _adjustments(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    roll = {row.key: row.data for row in views.rows("pensions", "retiree")}
    prefix = f"{selection.year:04d}-"
    found = []
    for retiree, data in _retirees(views, selection):
        pension = roll.get(retiree, {})
        found.append({"retiree_id": retiree, "city": data.get("city"), "community": data.get("community"),
                      "pension_status": pension.get("pension_status"),
                      "adjustments_in_year": sum(1 for a in pension.get("adjustments", []) if a[0].startswith(prefix)),
                      "previous_amount": pension.get("monthly_pension"), "effective_month": f"{prefix}01",
                      "reason": AdjustmentReason.ANNUAL_ADJUSTMENT.value})
    return found


def _staff_rows(views: Views, selection: Selection) -> list[tuple[str, str, dict[str, Any]]]:
    """(community, staff id, facts) of the training view's staff the selection admits, in that order."""
    cities = {row.data["code"]: row.data.get("city") for row in views.rows("training", "community")}
    found = []
    for row in views.rows("training", "staff"):
        code, _, staff_id = row.key.partition("|")
        if selection.admits(cities.get(code), code):
            found.append((code, staff_id, row.data))
    return sorted(found, key=lambda item: (item[0], item[1]))


def _roster(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    return [{"community": code, "staff_id": staff_id, "role": member.get("role"),
             "qualified_social_worker": _yes(bool(member.get("qualified")), language),
             "joined_on": member["stints"][-1][0]}
            for code, staff_id, member in _staff_rows(views, selection)
            if member.get("stints") and member["stints"][-1][1] is None]


def _courses(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    return [{"community": code, "staff_id": staff_id, "course": course, "enrolled_on": enrolled_on}
            for code, staff_id, member in _staff_rows(views, selection)
            for course, enrolled_on in sorted(member.get("enrolled", {}).items())
            if course not in member.get("completed", {})]


def _funding(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    """Each registered community in scope, the agency of its city as the area, and the year's funding so far."""
    totals = {row.key: row.data.get("total") for row in views.rows("funding", "funding")}
    found = sorted((row.data["code"], row.data.get("city")) for row in views.rows("funding", "community")
                   if selection.admits(row.data.get("city"), row.data["code"]))
    return [{"area": city, "community": code, "city": city, "year": selection.year,
             "funded_in_year": totals.get(f"{code}|{selection.year:04d}", "0")} for code, city in found]


EXPORTS: dict[str, Callable[[Views, Selection, Language], list[dict[str, Any]]]] = {
    "certifications": _certifications, "adjustments": _adjustments, "services": lambda *_: [],
    "staff": _roster, "training": _courses, "funding": _funding,
}


def export_rows(kind: Kind, views: Views, selection: Selection, language: Language = "zh") -> list[dict[str, Any]]:
    """The rows of an export, by column name (no personal data; see the module docstring)."""
    return EXPORTS[kind.name](views, selection, language)


def export_sheet(kind: Kind, views: Views, selection: Selection, fmt: tables.Format,
                 language: Language = "zh") -> tuple[bytes, int]:
    """The export as a file whose headers (``language``) an import reads back, and its number of rows."""
    rows = export_rows(kind, views, selection, language)
    headers = [column.zh if language == "zh" else column.name for column in kind.columns]
    content = tables.write([column.name for column in kind.columns], rows, fmt, headers=headers, sheet=kind.name)
    return content, len(rows)


def file_name(kind: Kind, selection: Selection, fmt: tables.Format) -> str:
    """A download name: ``adjustments-2025-Changsha.xlsx`` (ASCII: codes, year; a city as given)."""
    parts = [kind.name, *([str(selection.year)] if kind.name in ("certifications", "adjustments", "funding") else []),
             *(p for p in (selection.city, selection.community) if p)]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts)) + f".{fmt}"
