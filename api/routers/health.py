"""``/health``: liveness, the event log (and, with Kafka, its index), and each view's position, lag,
last error and last verification (``ledger projections verify``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep
from api.responses import DifferenceOut, HealthOut, IndexHealthOut, LogHealthOut, VerifiedOut, ViewHealthOut
from projections.verify import Check, last_checks
from runtime.bootstrap import Services

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
    settings = services.settings
    log = LogHealthOut(backend=settings.backend, head=head,
                       topic=settings.kafka_topic if settings.backend == "kafka" else None)
    index = _index(services)
    degraded = bool(side.errors) or (index is not None and index.fenced)
    return HealthOut(status="degraded" if degraded else "ok", head=head, log=log, index=index, views=views,
                     errors=side.errors)


def _index(services: Services) -> IndexHealthOut | None:
    """The Kafka recorder's index and writer, or None on the SQLite backend."""
    recorder: Any = services.ledger.log
    writer, index = getattr(recorder, "writer", None), getattr(recorder, "index", None)
    if writer is None or index is None:
        return None
    seq, _ = index.head()
    return IndexHealthOut(head=seq, partitions={str(p): o for p, o in index.positions().items()},
                          stale=bool(writer.stale), fenced=bool(writer.fenced), write_failures=dict(writer.failures))


def _verified(check: Check) -> VerifiedOut:
    found = check.difference
    difference = None if found is None else DifferenceOut(kind=found.kind, table=found.table, fields=list(found.fields))
    return VerifiedOut(at=check.at.isoformat(), position=check.position, rows=check.rows, ok=check.ok,
                       differing=check.differing, difference=difference)
