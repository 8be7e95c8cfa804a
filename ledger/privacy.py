"""The one redaction rule: which fields are personal, and what a reader who may not see them gets.

Personal fields are marked where the facts are declared, on the event classes (``PERSONAL``):
names and ID numbers, sex and date of birth (together they identify a person), and the free
text of service notes and rating comments (which may say anything about someone's health or
home). Every read path applies this module and nothing else: HTTP history, log and state
(``api.presenters``), the audit view (``projections.audit``) and the CLI's ``history``. NDJSON
exports are migration files and keep every field (they are written for an operator, not shown to a
role). A redacted value becomes ``"***"``; its key stays, so a reader sees that something is
withheld. State fields carry the name of the event field they come from (a retiree's ``name`` is
``Enrolled.name``), so the same marks redact states.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.idempotency import IdempotencyClaim
from ledger.domain.identity import IdentityClaim
from ledger.domain.retiree import Retiree

REDACTED = "***"


@cache
def event_classes() -> dict[str, type]:
    """Every event class of the domain by its type name (the names are unique across aggregates)."""
    found: dict[str, type] = {}
    for aggregate in (Retiree, Community, Agency, IdentityClaim, IdempotencyClaim):
        for value in vars(aggregate).values():
            if isinstance(value, type) and hasattr(value, "PERSONAL") and value.__name__ != "Event":
                found[value.__name__] = value
    return found


def personal_fields(event_type: str) -> frozenset[str]:
    """The personal fields of the event type called ``event_type`` (none for an unknown name)."""
    cls = event_classes().get(event_type)
    return frozenset(getattr(cls, "PERSONAL", frozenset()))


RETIREE_STATE = personal_fields("Enrolled")
"""The personal fields of a retiree's state (set from the enrollment)."""
STAFF_STATE = personal_fields("StaffJoined")
"""The personal fields of a staff member in a community's state."""


def redact(data: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """A copy of ``data`` with the values of ``fields`` replaced by ``"***"`` (keys kept, nothing added)."""
    return {key: REDACTED if key in fields else value for key, value in data.items()}


def redact_event(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's business fields with its personal fields redacted."""
    return redact(data, personal_fields(event_type))


def without_personal(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's business fields with its personal fields left out (what a view stores)."""
    fields = personal_fields(event_type)
    return {key: value for key, value in data.items() if key not in fields}
