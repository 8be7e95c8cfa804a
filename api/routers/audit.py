"""``/v1/audit``: the ledger's public key (open to all), signed checkpoints and verification (auditors only).

Auditors keep checkpoints outside the operator's reach and verify with the public key, so the
key is public; everything else here needs an auditor token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CallerDep, CheckpointsDep, LedgerDep
from api.responses import CheckpointOut, PublicKeyOut, VerifyOut, problems
from ledger.access import Resource
from ledger.application import Ledger
from ledger.checkpoints import CheckpointStore
from ledger.errors import NotFoundError
from ledger.eventlog.base import LogRecord
from ledger.integrity import first_break
from ledger.verify import VerifyReport, topic_records, verify_log

router = APIRouter(prefix="/audit", tags=["audit"], responses=problems(422))


@router.get("/public-key", responses=problems(404))
def public_key(checkpoints: CheckpointsDep) -> PublicKeyOut:
    """The Ed25519 public key (PEM) that checkpoint signatures verify with; 404 before ``ledger keys init``."""
    pem = checkpoints.public_key()
    if pem is None:
        raise NotFoundError("no signing key has been published yet")
    return PublicKeyOut(algorithm="Ed25519", pem=pem.decode())


@router.get("/checkpoints", responses=problems(401, 403))
def list_checkpoints(
    checkpoints: CheckpointsDep,
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="checkpoints with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CheckpointOut]:
    """Signed checkpoints in seq order (auditors only)."""
    caller.check_read(Resource.AUDIT)
    return [CheckpointOut(**vars(c)) for c in checkpoints.checkpoints(after=after, limit=limit)]


@router.get("/verify", responses=problems(401, 403))
def verify(ledger: LedgerDep, checkpoints: CheckpointsDep, caller: CallerDep) -> VerifyOut:
    """Recomputes the hash chain from seq 1 and checks every stored checkpoint (auditors only).

    ``ok`` false names the first event that does not match (``first_bad_seq``, ``reason``). Before
    a signing key exists only the chain is checked (``checkpoints`` is 0).
    """
    caller.check_read(Resource.AUDIT)
    return VerifyOut(**verify_stored(ledger, checkpoints).to_dict())


def verify_stored(ledger: Ledger, store: CheckpointStore) -> VerifyReport:
    """``ledger.verify.verify_log`` over the whole log and the stored checkpoints (streaming); on the
    Kafka backend over the topic itself, not the API's local index."""
    with ExitStack() as stack:
        kafka = ledger.settings.backend == "kafka"
        records = stack.enter_context(topic_records(ledger.settings)) if kafka else ledger.iter_log()
        return _verify(records, ledger, store)


def _verify(records: Iterator[LogRecord], ledger: Ledger, store: CheckpointStore) -> VerifyReport:
    key = store.public_key()
    if key is not None:
        return verify_log(records, store.checkpoints(), key, ledger_name=ledger.settings.ledger_name)
    head = 0

    def counted() -> Iterator[LogRecord]:
        nonlocal head
        for record in records:
            head = record.id
            yield record

    broken = first_break(counted())
    if broken is None:
        return VerifyReport(ok=True, checked=head, head=head)
    return VerifyReport(ok=False, checked=broken.seq - 1, head=head, first_bad_seq=broken.seq, reason=broken.reason)
