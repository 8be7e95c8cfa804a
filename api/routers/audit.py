"""``/v1/audit``: the ledger's public key (open to all), signed checkpoints and verification (auditors only).

Auditors keep checkpoints outside the operator's reach and verify with the public key, so the
key is public; everything else here needs an auditor token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CallerDep, CheckpointsDep, LedgerDep
from api.responses import CheckpointOut, PublicKeyOut, VerifyOut, problems
from ledger.access import Resource
from ledger.errors import NotFoundError
from ledger.integrity.verify import verify_ledger

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
    return VerifyOut(**verify_ledger(ledger, checkpoints).to_dict())
