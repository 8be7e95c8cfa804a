"""Response models of the HTTP API, and the problem responses documented in OpenAPI."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from api.errors import PROBLEM_MEDIA_TYPE
from ledger.domain.values import PensionStatus, Stage


class AppendedOut(BaseModel):
    """The stream written (retiree UUID or community code), its new version, the first event's seq."""

    id: str
    version: int
    seq: int


class EventOut(BaseModel):
    """One stored event, decoded, at its place in the global log (``seq``) and the hash chain."""

    seq: int
    stream: str
    version: int
    type: str
    timestamp: str
    recorded_by: str
    event_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class LogPage(BaseModel):
    """``next_after`` is the seq to pass as ``after`` for the next page (unchanged when empty)."""

    events: list[EventOut]
    next_after: int


class DirectoryEntryOut(BaseModel):
    """One retiree of the directory (``projections.directory``): no name, no ID number. ``community`` is
    the managing community now (null while the danwei manages them); ``enrolled`` the retirement date."""

    retiree_id: str
    city: str
    district: str
    community: str | None
    stage: Stage
    pension_status: PensionStatus
    enrolled: date


class RetireesPageOut(BaseModel):
    """A page of the directory sorted by retiree id; ``next`` is the ``cursor`` of the next page (null on
    the last); ``position`` and ``lag`` as in ``api.projection_rows.Page``."""

    retirees: list[DirectoryEntryOut]
    next: str | None
    position: int = 0
    lag: int = 0


class RetireeFoundOut(BaseModel):
    """The retiree an ID number belongs to."""

    retiree_id: str


class ViewStatusOut(BaseModel):
    """``version`` is the code's, ``stored_version`` the stored view's (None before its first run)."""

    name: str
    version: int
    stored_version: int | None
    position: int
    head: int
    lag: int
    error: str | None = None


class ProjectionsStatusOut(BaseModel):
    views: list[ViewStatusOut]


class DifferenceOut(BaseModel):
    """The first row where a view differs from a replay of the log: ``kind`` is ``missing`` (in the replay,
    not in the view), ``extra`` (in the view, not in the replay), ``different`` (``fields`` differ) or
    ``position`` (the log ends before the view's position); ``table`` is the row's kind. Neither the row's
    key (it may be a retiree id, and ``/health`` needs no token) nor values: ``ledger projections verify``
    prints the key."""

    kind: str
    table: str
    fields: list[str]


class VerifiedOut(BaseModel):
    """The view's last ``ledger projections verify``: at ``position``, ``rows`` compared, ``ok`` when the
    view equals a replay of the log up to there; ``differing`` rows differ, ``difference`` is the first."""

    at: str
    position: int
    rows: int
    ok: bool
    differing: int
    difference: DifferenceOut | None = None


class ViewHealthOut(BaseModel):
    """``verified`` is absent until the view is verified (and again after it is rebuilt)."""

    name: str
    position: int
    lag: int
    error: str | None = None
    verified: VerifiedOut | None = None


class LogHealthOut(BaseModel):
    """The event log: its backend (``sqlite`` or ``kafka``), its head, and the Kafka topic."""

    backend: str
    head: int
    topic: str | None = None


class IndexHealthOut(BaseModel):
    """The Kafka backend's index (the topic read into SQLite): the seq and offset per partition it has
    read, ``stale`` until the writer re-read the topic after a failure, ``fenced`` once another writer
    took over, and the failed write batches by kind."""

    head: int
    partitions: dict[str, int] = {}
    stale: bool = False
    fenced: bool = False
    write_failures: dict[str, int] = {}


class HealthOut(BaseModel):
    """``status`` is ``ok``, or ``degraded`` while a view or the checkpointer is failing (``errors``) or
    the Kafka writer is fenced. ``log`` and (Kafka only) ``index`` describe the event log."""

    status: str
    head: int
    log: LogHealthOut | None = None
    index: IndexHealthOut | None = None
    views: list[ViewHealthOut] = []
    errors: dict[str, str] = {}


class Problem(BaseModel):
    """An ``application/problem+json`` body (RFC 9457); ``api/errors.py`` lists the types."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None
    errors: list[dict[str, Any]] | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: schema}, "description": "a problem (RFC 9457)"}
        for status in statuses
    }


class PublicKeyOut(BaseModel):
    """``verifier_key`` is the C2SP signed-note verifier key (``name+keyid+base64key``) that Go's
    ``sumdb/note`` and transparency-log witnesses take as it is."""

    algorithm: str
    pem: str
    verifier_key: str


class CheckpointOut(BaseModel):
    """A signed checkpoint: the tree of ``tree_size`` events has Merkle root ``root_hash`` (hex) and
    chain head ``hash`` at ``seq`` (= ``tree_size``). ``signature`` (hex, Ed25519) covers the C2SP
    checkpoint note of ``GET /v1/audit/checkpoint``; ``root_hash`` is null for a checkpoint signed before
    the tree existed (its signature covers ``(ledger_name, seq, hash, time)``)."""

    ledger_name: str
    tree_size: int
    root_hash: str | None
    seq: int
    hash: str
    time: str
    signature: str


class BadSnapshotOut(BaseModel):
    """A stored snapshot that does not open where it is stored (moved, altered, or over rewritten events)."""

    stream: str
    version: int
    reason: str


class VerifyOut(BaseModel):
    """The outcome of ``ledger.integrity.verify.verify_log`` (see ``VerifyReport``)."""

    ok: bool
    checked: int
    head: int
    first_bad_seq: int | None
    reason: str | None
    signed: int
    checkpoints: int
    root_hash: str | None
    snapshots: int | None
    bad_snapshots: list[BadSnapshotOut]


class InclusionProofOut(BaseModel):
    """RFC 9162 §2.1.3: ``leaf_index`` = seq - 1; hashes hex."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProofOut(BaseModel):
    """RFC 9162 §2.1.4: the tree of ``first`` leaves is a prefix of the tree of ``second``; hashes hex."""

    first: int
    second: int
    consistency_path: list[str]


class TreeHeadOut(BaseModel):
    """The Merkle tree head (RFC 9162 §2.1.1) of the first ``tree_size`` events; ``root_hash`` hex."""

    tree_size: int
    root_hash: str
