"""``/health``: liveness and the head of the log."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import LedgerDep
from api.responses import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ledger: LedgerDep) -> HealthOut:
    """``head`` is the seq of the last event in the log (0 when empty)."""
    return HealthOut(status="ok", head=ledger.head())
