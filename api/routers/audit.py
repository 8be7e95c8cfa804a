"""``/v1/audit``: the ledger's public key (open to all), signed checkpoints, Merkle proofs and
verification (auditors only).

Auditors keep checkpoints outside the operator's reach and verify with the public key, so the
key is public; everything else here needs an auditor token. The checkpoint, the proofs and the
verifier key have exactly the shapes of RFC 9162 and C2SP (tlog-checkpoint, signed-note), so any
verifier or witness of that ecosystem checks them as they are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import CallerDep, CheckpointsDep, LedgerDep, ServicesDep
from api.responses import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    PublicKeyOut,
    TreeHeadOut,
    VerifyOut,
    problems,
)
from ledger.access import Resource
from ledger.errors import NotFoundError
from ledger.integrity import note, proofs
from ledger.integrity.chain import raw_public_key
from ledger.integrity.checkpoints import Checkpoint
from ledger.integrity.verify import verify_ledger

router = APIRouter(prefix="/audit", tags=["audit"], responses=problems(422))


@router.get("/public-key", responses=problems(404))
def public_key(checkpoints: CheckpointsDep, ledger: LedgerDep) -> PublicKeyOut:
    """The Ed25519 public key (PEM, and as a signed-note verifier key named after the ledger) that
    checkpoint signatures verify with; 404 before ``ledger keys init``."""
    pem = checkpoints.public_key()
    if pem is None:
        raise NotFoundError("no signing key has been published yet")
    verifier = note.Verifier.of(ledger.settings.ledger_name, raw_public_key(pem))
    return PublicKeyOut(algorithm="Ed25519", pem=pem.decode(), verifier_key=str(verifier))


@router.get("/checkpoints", responses=problems(401, 403))
def list_checkpoints(
    checkpoints: CheckpointsDep,
    caller: CallerDep,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="checkpoints with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CheckpointOut]:
    """Signed checkpoints in seq order (auditors only). Like a projection read, it first waits (bounded)
    until the signer has looked at the log head as it stood when the read arrived."""
    caller.check_read(Resource.AUDIT)
    _signer_caught_up(services)
    return [_out(c) for c in checkpoints.checkpoints(after=after, limit=limit)]


@router.get("/checkpoints/latest", responses=problems(401, 403, 404))
def latest_checkpoint(checkpoints: CheckpointsDep, caller: CallerDep, services: ServicesDep) -> CheckpointOut:
    """The checkpoint with the largest tree (auditors only); 404 before the first one is signed."""
    caller.check_read(Resource.AUDIT)
    return _out(_latest(checkpoints, services))


@router.get("/checkpoint", response_class=PlainTextResponse, responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}}},
          "description": "The C2SP tlog-checkpoint signed note"}, **problems(401, 403, 404)})
def checkpoint_note(checkpoints: CheckpointsDep, caller: CallerDep, services: ServicesDep) -> PlainTextResponse:
    """The latest checkpoint as a C2SP ``tlog-checkpoint`` signed note (auditors only): the ledger's
    name, the tree size, the base64 root hash, ``time`` and ``chain`` extension lines, a blank line and
    ``— <ledger name> <base64(key ID ‖ Ed25519 signature)>``; it verifies with ``verifier_key`` of
    ``GET /v1/audit/public-key``."""
    caller.check_read(Resource.AUDIT)
    latest, pem = _latest(checkpoints, services), checkpoints.public_key()
    if latest.root_hash is None or pem is None:
        raise NotFoundError("the latest checkpoint predates the Merkle tree: sign a new one (`ledger checkpoint`)")
    return PlainTextResponse(latest.note(pem), media_type="text/plain; charset=utf-8")


def _signer_caught_up(services: ServicesDep) -> None:
    """Like a projection read: waits (bounded) until the signer has looked at the head as it stood."""
    if services.checkpointer is not None:
        services.view_position("checkpoints", services.ledger.head())


def _latest(checkpoints: CheckpointsDep, services: ServicesDep) -> Checkpoint:
    _signer_caught_up(services)
    latest = checkpoints.latest()
    if latest is None:
        raise NotFoundError("no checkpoint has been signed yet")
    return latest


def _out(checkpoint: Checkpoint) -> CheckpointOut:
    return CheckpointOut(**checkpoint.to_dict())  # type: ignore[arg-type]


@router.get("/verify", responses=problems(401, 403))
def verify(ledger: LedgerDep, checkpoints: CheckpointsDep, caller: CallerDep) -> VerifyOut:
    """Recomputes the hash chain from seq 1 and checks every stored checkpoint (auditors only).

    ``ok`` false names the first event that does not match (``first_bad_seq``, ``reason``). Before
    a signing key exists only the chain is checked (``checkpoints`` is 0).
    """
    caller.check_read(Resource.AUDIT)
    return VerifyOut(**verify_ledger(ledger, checkpoints).to_dict())


Seq = Annotated[int, Query(ge=1, le=2**62)]


@router.get("/tree-head", responses=problems(401, 403))
def tree_head(ledger: LedgerDep, caller: CallerDep,
              tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> TreeHeadOut:
    """The Merkle tree head of the whole log, or of its first ``tree_size`` events (auditors only)."""
    caller.check_read(Resource.AUDIT)
    size, root = proofs.tree_head(ledger.log, tree_size)
    return TreeHeadOut(tree_size=size, root_hash=root)


@router.get("/proof/inclusion", responses=problems(401, 403))
def inclusion_proof(ledger: LedgerDep, caller: CallerDep, seq: Seq, tree_size: Seq) -> InclusionProofOut:
    """RFC 9162 inclusion proof of the event at ``seq`` in the tree of ``tree_size`` events (auditors only)."""
    caller.check_read(Resource.AUDIT)
    return InclusionProofOut(**vars(proofs.inclusion(ledger.log, seq, tree_size)))


@router.get("/proof/consistency", responses=problems(401, 403))
def consistency_proof(ledger: LedgerDep, caller: CallerDep, first: Seq, second: Seq) -> ConsistencyProofOut:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` events (auditors only)."""
    caller.check_read(Resource.AUDIT)
    return ConsistencyProofOut(first=first, second=second, consistency_path=proofs.consistency(ledger.log, first,
                                                                                               second))
