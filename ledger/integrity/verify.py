"""Verification for auditors: recompute the hash chain and the Merkle tree, hold them against
signed checkpoints, and check every stored snapshot.

``verify_log`` streams the log once (memory does not grow with the number of events), from the
bytes as stored, so it needs neither the data-encryption key nor the lookup key; it recomputes
the tree head as it goes (``heads.TreeHeads``, fed runs of leaves: ``RUN`` at most, or up to the next
checkpoint; on a long log with a second core the tree is folded in a helper process beside the chain)
and compares it with every checkpoint's root. It stops at the first event that does not match and
names it by ``seq`` with a short reason; reasons never carry event contents. ``verify_ledger`` adds
the stored tree (the one proofs are served from) and, when the data key is at hand, every snapshot
(``verify_snapshots``): a snapshot that does not open where it is stored is named by stream and version.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from hashlib import sha256
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog.base import GENESIS_HASH, LogRecord, Row, as_rows
from ledger.integrity import merkle
from ledger.integrity.chain import link_digest, load_public_key
from ledger.integrity.checkpoints import Checkpoint, CheckpointStore
from ledger.integrity.heads import HANDOFF, TreeHeads, TreeWorkerError
from ledger.sealing import SealError, SealingMapper

PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification.

    ``checked`` events passed the chain checks (all of them when ``ok``); ``head`` is the highest
    seq read; ``signed`` the highest seq vouched for by a valid checkpoint that matched (events
    after it are genuine-looking but unsigned); ``first_bad_seq``/``reason`` say where and why it
    failed.
    """

    ok: bool
    checked: int
    head: int
    first_bad_seq: int | None = None
    reason: str | None = None
    signed: int = 0
    checkpoints: int = 0
    root_hash: str | None = None
    snapshots: int | None = None
    bad_snapshots: list[dict[str, Any]] = field(default_factory=list)
    root_at: str | None = None
    """The Merkle root recomputed at the size ``verify_rows`` was asked for (``root_at``), if reached."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_log(
    records: Iterable[LogRecord],
    checkpoints: Sequence[Checkpoint],
    public_key: bytes | None,
    trusted: Checkpoint | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    require_signed: bool = False,
    ledger_name: str | None = None,
) -> VerifyReport:
    """``verify_rows`` over ``LogRecord``s (a Kafka topic, tests)."""
    return verify_rows(as_rows(iter(records)), checkpoints, public_key, trusted, progress,
                       require_signed=require_signed, ledger_name=ledger_name)


def verify_rows(
    rows: Iterable[Row],
    checkpoints: Sequence[Checkpoint],
    public_key: bytes | None,
    trusted: Checkpoint | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    require_signed: bool = False,
    ledger_name: str | None = None,
    root_at: int | None = None,
    handoff: int | None = HANDOFF,
) -> VerifyReport:
    """Verifies ``rows`` (the whole log, in seq order from 1) against the chain and checkpoints.

    Fails when: a record is missing, out of order or its ``prev_hash``/``hash`` do not match the
    bytes; a checkpoint (or ``trusted``, the auditor's own copy) has a bad signature, names another
    ledger (when ``ledger_name`` is given), or its seq holds an event with another hash; the log ends
    below a checkpoint (truncated); or, with ``require_signed``, the log goes on past the last
    checkpoint (unsigned events, e.g. forged appends). ``progress(checked)`` is called every
    ``PROGRESS_EVERY`` events and at the end. ``public_key`` is raw Ed25519 bytes or PEM; without one
    (no signing key yet) only the chain is checked and ``checkpoints`` is 0. A checkpoint with a
    root (``root_hash``) must also equal the Merkle root recomputed from the chain at its size
    (a checkpoint of another tree fails there); the report's ``root_hash`` is the head's. The loop
    keeps digests as bytes and builds no objects per row; it tests one seq per event (the next stop:
    a checkpoint, ``root_at``, a progress tick or a full run) and hands the tree its leaves a run at a
    time (``heads.TreeHeads``: one pass per level instead of a fold per leaf; past ``handoff`` leaves, on
    a second core, in a helper process). With ``root_at``, the report also carries the root at that size
    (to compare with a stored tree that lags the log).
    """
    anchors: dict[int, Checkpoint] = {}
    candidates = [*checkpoints, *([trusted] if trusted is not None else [])] if public_key is not None else []
    key = load_public_key(public_key) if public_key is not None else None
    for checkpoint in sorted(candidates, key=lambda item: item.seq):
        problem = _checkpoint_problem(checkpoint, key, ledger_name, anchors.get(checkpoint.seq)) if key else None
        if problem is not None:
            return VerifyReport(False, 0, 0, checkpoint.seq, problem, checkpoints=len(candidates))
        anchors[checkpoint.seq] = checkpoint

    with TreeHeads(handoff) as tree:
        return _walk(iter(rows), anchors, len(candidates), tree, trusted, progress, require_signed, root_at)


def _walk(stream: Iterator[Row], anchors: dict[int, Checkpoint], candidates: int, tree: TreeHeads,
          trusted: Checkpoint | None, progress: Callable[[int], None] | None, require_signed: bool,
          root_at: int | None) -> VerifyReport:
    """``verify_rows``'s one pass, the checkpoints' signatures checked. Tree heads are asked of ``tree``
    at every checkpoint with a root, at ``root_at`` and at the end, and held against the checkpoints as
    they are answered (at once in-process; a helper process answers a little later): a failure found
    further on is reported only after every root asked before it is known, so the first failure is the
    one named, as in a check at each checkpoint's own seq."""
    prev_hex, prev, checked, signed = GENESIS_HASH, bytes(32), 0, 0
    owed: deque[tuple[int, str | None, int]] = deque()  # roots asked for: seq, the checkpoint's root, signed before
    found: dict[int, str] = {}  # the roots asked for without a checkpoint (root_at, the head)
    wrong: list[tuple[int, int]] = []  # the first checkpoint whose root differs: its seq, signed before it

    def settle(wait: bool) -> bool:
        """Holds the roots answered so far (every one asked, with ``wait``) against their checkpoints."""
        for size, root in tree.answers(wait):
            seq, expected, before = owed.popleft()
            if size != seq:
                raise TreeWorkerError(f"asked for the tree head at {seq}, answered at {size}")
            if expected is None:
                found[seq] = root.hex()
            elif expected != root.hex() and not wrong:
                wrong.append((seq, before))
        return bool(wrong)

    def failed(seq: int, reason: str, last_read: int) -> VerifyReport:
        head = max(last_read, max((row[0] for row in stream), default=0))  # the rest is read, not checked
        if settle(wait=True):  # a checkpoint before ``seq`` signs another tree: that comes first
            at, before = wrong[0]
            reason = f"the {_kind(at, trusted)} at seq {at} signs another Merkle tree"
            return VerifyReport(False, at - 1, head, at, reason, before, candidates)
        return VerifyReport(False, checked, head, seq, reason, signed, candidates)

    run, sha = list[bytes](), sha256
    append = run.append
    marks = sorted({*anchors, *([root_at] if root_at else [])})  # the sizes the tree head is needed at
    stop = _next_stop(0, marks, progress is not None)
    for seq_read, stream_id, version, topic, state, event_id, prev_hash, hash_hex in stream:
        seq = checked + 1
        if seq_read != seq:
            return failed(seq, f"expected seq {seq}, found seq {seq_read}: events missing or reordered", seq_read)
        if prev_hash != prev_hex:
            return failed(seq, "prev_hash does not link to the previous event", seq)
        digest = link_digest(prev, seq, stream_id, version, topic, event_id, sha(state).digest())
        if digest.hex() != hash_hex:
            return failed(seq, "hash does not match the stored bytes", seq)
        append(digest)
        if seq == stop:  # a checkpoint, root_at, a full run of leaves or a progress tick: one test per event
            tree.extend(run)
            run.clear()
            if seq in anchors:
                anchor = anchors[seq]
                if anchor.hash != hash_hex:
                    reason = f"differs from the {_kind(seq, trusted)} at seq {seq}: rewritten after seq {signed}"
                    return failed(seq, reason, seq)
                if anchor.root_hash is not None:
                    tree.ask()
                    owed.append((seq, anchor.root_hash, signed))
                signed = seq
            if seq == root_at:
                tree.ask()
                owed.append((seq, None, signed))
            if owed and settle(wait=False):
                return failed(seq, "", seq)
            if progress is not None and seq % PROGRESS_EVERY == 0:
                progress(seq)
            stop = _next_stop(seq, marks, progress is not None)
        prev_hex, prev, checked = hash_hex, digest, seq
    tree.extend(run)
    tree.ask()
    owed.append((checked, None, signed))
    if settle(wait=True):
        return failed(checked, "", checked)
    if progress is not None and checked % PROGRESS_EVERY:
        progress(checked)
    beyond = [seq for seq in anchors if seq > checked]
    if beyond:
        reason = f"the log ends at seq {checked}, below the {_kind(min(beyond), trusted)} at seq {min(beyond)}"
        return failed(checked + 1, reason, checked)
    if require_signed and checked > signed:
        return failed(signed + 1, f"event not covered by any signed checkpoint (signed up to seq {signed})", checked)
    return VerifyReport(True, checked, checked, None, None, signed, candidates, found[checked],
                        root_at=found.get(root_at) if root_at else None)


RUN = 256
"""Leaves handed to the tree at once (``merkle.Frontier.extend``) at most: a fixed buffer."""


def _next_stop(seq: int, marks: list[int], ticks: bool) -> int:
    """The next seq after ``seq`` where ``verify_rows`` must look up: the next of ``marks`` (sorted), the
    next multiple of ``RUN``, and of ``PROGRESS_EVERY`` when progress is reported."""
    stop = seq + RUN - seq % RUN
    if ticks:
        stop = min(stop, seq + PROGRESS_EVERY - seq % PROGRESS_EVERY)
    at = bisect_right(marks, seq)
    return min(stop, marks[at]) if at < len(marks) else stop


def _kind(seq: int, trusted: Checkpoint | None) -> str:
    return "trusted checkpoint" if trusted is not None and trusted.seq == seq else "signed checkpoint"


def _checkpoint_problem(
    checkpoint: Checkpoint, key: Ed25519PublicKey, ledger_name: str | None, same_seq: Checkpoint | None
) -> str | None:
    if not checkpoint.verifies(key):
        return f"checkpoint at seq {checkpoint.seq}: the signature does not verify with the ledger's public key"
    if ledger_name is not None and checkpoint.ledger_name != ledger_name:
        return f"checkpoint at seq {checkpoint.seq} belongs to another ledger"
    if checkpoint.seq < 1:
        return f"checkpoint at seq {checkpoint.seq}: no such event"
    if same_seq is not None and same_seq.hash != checkpoint.hash:
        return f"two signed checkpoints disagree about seq {checkpoint.seq}"
    return None


@contextmanager
def topic_records(settings: Settings) -> Iterator[Iterator[LogRecord]]:
    """The Kafka backend's committed records straight from the topic, in seq order (what auditors
    verify: the topic is the record, the local index only a cache of it)."""
    from ledger.eventlog.kafka import TopicReader, committed_records

    reader = TopicReader(settings.kafka_bootstrap, settings.kafka_topic)
    try:
        yield committed_records(reader)
    finally:
        reader.close()


def verify_ledger(
    ledger: Ledger,
    store: CheckpointStore,
    *,
    trusted: Checkpoint | None = None,
    public_key: bytes | None = None,
    require_signed: bool = False,
    use_topic: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """The one verification use case (``ledger verify``, ``GET /v1/audit/verify``): the whole log
    against its chain and every stored checkpoint, streaming.

    On the Kafka backend the topic itself is read (``use_topic``; the local index is only a cache
    of it), else the ledger's log. ``public_key`` defaults to the one the store published; with
    none at all only the chain is checked (``checkpoints`` is 0). ``progress(done, total)`` with
    ``total`` 0 when unknown.
    """
    key = public_key if public_key is not None else store.public_key()
    settings = ledger.settings
    total = 0 if settings.backend == "kafka" and use_topic else ledger.head()
    tick = (lambda done: progress(done, total)) if progress is not None else None
    with ExitStack() as stack:
        kafka = settings.backend == "kafka" and use_topic
        rows = as_rows(stack.enter_context(topic_records(settings))) if kafka else ledger.log.raw_rows()
        stored_size = ledger.log.merkle(lambda node, size: size)
        report = verify_rows(rows, store.checkpoints(), key, trusted, tick, require_signed=require_signed,
                             ledger_name=settings.ledger_name, root_at=stored_size)
    at = min(stored_size, report.checked)  # a Kafka index may lag the topic: compare the tree it holds
    if report.ok and at:
        stored_root = ledger.log.merkle(lambda node, size: merkle.root(node, at).hex() if size >= at else None)
        if stored_root != (report.root_hash if at == report.checked else report.root_at):
            return replace(report, ok=False, first_bad_seq=report.checked,
                           reason="the stored Merkle tree does not match the log (its proofs would not verify)")
    mapper = ledger.mapper
    if not isinstance(mapper, SealingMapper) or not mapper.seals:
        return report
    bad = verify_snapshots(ledger)
    report = replace(report, snapshots=bad.checked, bad_snapshots=bad.problems)
    if report.ok and bad.problems:
        first = bad.problems[0]
        reason = f"the snapshot of {first['stream']} at version {first['version']} {first['reason']}"
        return replace(report, ok=False, reason=f"{len(bad.problems)} bad snapshot(s); {reason}")
    return report


@dataclass(frozen=True)
class SnapshotCheck:
    checked: int
    problems: list[dict[str, Any]]


def verify_snapshots(ledger: Ledger, limit: int = 100) -> SnapshotCheck:
    """Opens every stored snapshot under its binding (``ledger.sealing``): one moved to another
    stream or version, altered, or over events that were rewritten does not open. Returns how
    many were checked and the first ``limit`` bad ones by stream and version (never content)."""
    recorder = ledger.snapshots.recorder if ledger.snapshots is not None else None
    datastore, table = getattr(recorder, "datastore", None), getattr(recorder, "events_table_name", None)
    if datastore is None or table is None:
        return SnapshotCheck(0, [])
    checked, problems, after = 0, list[dict[str, Any]](), ("", -1)
    select = (f"SELECT originator_id, originator_version, topic, state FROM {table} "
              "WHERE (originator_id, originator_version) > (?, ?) ORDER BY originator_id, originator_version LIMIT 500")
    while True:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(select, after)
            rows = cursor.fetchall()
        if not rows:
            break
        for stream, version, topic, state in rows:
            checked += 1
            stored = StoredEvent(UUID(str(stream)), version, topic, bytes(state))
            try:
                ledger.mapper.to_domain_event(stored)
            except Exception as error:  # any failure to open is the finding
                if len(problems) < limit:
                    reason = "does not open where it is stored" if isinstance(error, SealError) \
                        else f"does not decode ({type(error).__name__})"
                    problems.append({"stream": str(UUID(str(stream))), "version": version, "reason": reason})
        after = (rows[-1][0], rows[-1][1])
    return SnapshotCheck(checked, problems)
