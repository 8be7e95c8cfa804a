"""The projections this service runs, registered explicitly (no discovery, no import-time wiring)."""

from __future__ import annotations

from ledger.errors import InvalidInputError
from projections.audit import AuditView
from projections.base import Projection
from projections.compliance import ComplianceView
from projections.directory import DirectoryView
from projections.funding import FundingView
from projections.pensions import PensionsView
from projections.satisfaction import SatisfactionView
from projections.shards import merged, shared_kinds
from projections.standards import StandardsView
from projections.store import ViewRow, ViewStore
from projections.training import TrainingView
from projections.workload import WorkloadView

ALL: tuple[Projection, ...] = (
    AuditView(), WorkloadView(), SatisfactionView(), PensionsView(), StandardsView(), ComplianceView(), TrainingView(),
    FundingView(), DirectoryView(),
)


def by_name(name: str) -> Projection:
    """The registered projection called ``name``; an unknown name raises ``InvalidInputError``."""
    for projection in ALL:
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in ALL)
    raise InvalidInputError(f"unknown projection {name!r}; known: {known}")


def view_rows(store: ViewStore, view: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
    """A registered view's rows as queries read them: the parts of rows that sum across partitions
    merged (``projections.shards``)."""
    return merged(store.rows(view, kind, prefix), shared_kinds(by_name(view)))
