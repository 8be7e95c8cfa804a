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
from projections.standards import StandardsView
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
