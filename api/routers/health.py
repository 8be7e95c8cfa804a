"""``/health``: liveness, the head of the log, and each view's position, lag, last error and last
verification (``ledger projections verify``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.responses import DifferenceOut, HealthOut, VerifiedOut, ViewHealthOut
from projections.verify import Check, last_checks

router = APIRouter(tags=["health"])


@router.get("/health")
def health(services: ServicesDep) -> HealthOut:
    """``head`` is the seq of the last event in the log (0 when empty). A failing view or checkpoint
    signer is named with its error (``degraded``); writes go on meanwhile."""
    head = services.ledger.head()
    side = services.read_side()
    checks = last_checks(services.store)
    views = [ViewHealthOut(name=name, position=position, lag=max(head - position, 0), error=side.errors.get(name),
                           verified=_verified(checks[name]) if name in checks else None)
             for name, position in side.positions.items()]
    return HealthOut(status="degraded" if side.errors else "ok", head=head, views=views, errors=side.errors)


def _verified(check: Check) -> VerifiedOut:
    found = check.difference
    difference = None if found is None else DifferenceOut(kind=found.kind, table=found.table, fields=list(found.fields))
    return VerifiedOut(at=check.at.isoformat(), position=check.position, rows=check.rows, ok=check.ok,
                       differing=check.differing, difference=difference)
