"""``/health``: liveness, the head of the log, and each view's position, lag and last error."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.responses import HealthOut, ViewHealthOut

router = APIRouter(tags=["health"])


@router.get("/health")
def health(services: ServicesDep) -> HealthOut:
    """``head`` is the seq of the last event in the log (0 when empty). A failing view or checkpoint
    signer is named with its error (``degraded``); writes go on meanwhile."""
    head = services.ledger.head()
    side = services.read_side()
    views = [ViewHealthOut(name=name, position=position, lag=max(head - position, 0), error=side.errors.get(name))
             for name, position in side.positions.items()]
    return HealthOut(status="degraded" if side.errors else "ok", head=head, views=views, errors=side.errors)
