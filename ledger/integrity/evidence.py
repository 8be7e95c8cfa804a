"""Evidence bundles: one retiree's records with RFC 9162 inclusion proofs against a signed checkpoint.

A bundle is a folder an auditor checks offline with only the ledger's public key, and it shows
nothing of anyone else: other events appear only as hashes inside the proofs.

* ``records.ndjson`` — every event of the retiree's stream, in full (state base64, as stored: still
  encrypted), each with ``leaf_index`` and ``audit_path`` (hex, bottom up) in the checkpoint's tree;
* ``checkpoint.txt`` — the latest checkpoint as a C2SP signed note (``ledger.integrity.checkpoints``);
* ``consistency.ndjson`` — a consistency proof from every earlier checkpoint's tree to this one, so
  an auditor holding an old checkpoint sees that the log only grew since (``--from-checkpoint``);
* ``public-key.pem`` and ``verifier-key.txt`` — the ledger's public key, PEM and as a note verifier key;
* ``README.txt`` — what the files are and how to check them by hand.

What a bundle proves: each record is, unaltered, the event at its seq in the tree the checkpoint
signs, and the records are the stream's versions 1..n in order. What it cannot prove without
revealing others: that the stream has no event after its last record; a whole-log ``ledger verify``
shows that.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from uuid import UUID

import orjson

from ledger.errors import ConflictError, IntegrityViolationError, InvalidInputError, NotFoundError
from ledger.eventlog.base import LogRecord, canonical_id
from ledger.files import private_folder
from ledger.integrity import merkle, note, proofs
from ledger.integrity.chain import link_hash_of_digest, raw_public_key
from ledger.integrity.checkpoints import Checkpoint, CheckpointStore
from ledger.integrity.verify import VerifyReport

if TYPE_CHECKING:
    from ledger.application import Ledger

RECORDS, CHECKPOINT, CONSISTENCY, PUBLIC_KEY, VERIFIER_KEY, README = (
    "records.ndjson", "checkpoint.txt", "consistency.ndjson", "public-key.pem", "verifier-key.txt", "README.txt"
)
FILES = (RECORDS, CHECKPOINT, CONSISTENCY, PUBLIC_KEY, VERIFIER_KEY, README)
_RECORD = {"seq": int, "stream": str, "version": int, "topic": str, "state": str, "prev_hash": str, "hash": str,
           "leaf_index": int, "audit_path": list}


def export_evidence(ledger: Ledger, store: CheckpointStore, retiree_id: UUID | str, out_dir: Path) -> Path:
    """Writes the evidence bundle of ``retiree_id`` into ``out_dir`` (created if needed) and returns it.

    Proofs are O(log n) reads of the stored tree each. Raises ``NotFoundError`` (no such stream, no
    public key), ``ConflictError`` (no checkpoint with a tree yet, the retiree has events after the
    latest checkpoint — make one first — or ``out_dir`` already holds a bundle) and
    ``IntegrityViolationError`` (the checkpoint does not verify with the stored key).
    """
    stream = ledger.log.select_stream(retiree_id)
    if not stream:
        raise NotFoundError("no retiree with this id")
    checkpoint, public_key = store.latest(), store.public_key()
    if checkpoint is None or checkpoint.root_hash is None:
        raise ConflictError("there is no signed checkpoint of the Merkle tree yet: run `ledger checkpoint` first")
    if stream[-1].id > checkpoint.seq:
        raise ConflictError(
            f"the retiree's latest event (seq {stream[-1].id}) is after the latest checkpoint "
            f"(seq {checkpoint.seq}): run `ledger checkpoint` first"
        )
    if public_key is None:
        raise NotFoundError("the checkpoint store has no public key: run `ledger keys init`")
    if not checkpoint.verifies(public_key):
        raise IntegrityViolationError(f"the checkpoint at seq {checkpoint.seq} does not verify with the public key")
    if proofs.tree_head(ledger.log, checkpoint.seq)[1] != checkpoint.root_hash:
        raise IntegrityViolationError(f"the stored Merkle tree is not the one signed at seq {checkpoint.seq}")
    private_folder(out_dir)
    existing = [name for name in FILES if (out_dir / name).exists()]
    if existing:
        raise ConflictError(f"{out_dir} already holds an evidence bundle ({', '.join(existing)})")
    with (out_dir / RECORDS).open("wb") as handle:
        for record in stream:
            proof = proofs.inclusion(ledger.log, record.id, checkpoint.seq)
            handle.write(orjson.dumps(_entry(record) | {"leaf_index": proof.leaf_index,
                                                        "audit_path": proof.audit_path}) + b"\n")
    sizes = sorted({old.seq for old in store.checkpoints() if old.root_hash is not None and old.seq < checkpoint.seq})
    with (out_dir / CONSISTENCY).open("wb") as handle:
        for size in sizes:
            path = proofs.consistency(ledger.log, size, checkpoint.seq)
            handle.write(orjson.dumps({"first": size, "second": checkpoint.seq, "consistency_path": path}) + b"\n")
    verifier = note.Verifier.of(checkpoint.ledger_name, raw_public_key(public_key))
    (out_dir / CHECKPOINT).write_text(checkpoint.note(public_key))
    (out_dir / PUBLIC_KEY).write_bytes(public_key)
    (out_dir / VERIFIER_KEY).write_text(f"{verifier}\n")
    (out_dir / README).write_text(_readme(canonical_id(stream[0].originator_id), stream, checkpoint, len(sizes)))
    return out_dir


def _entry(record: LogRecord) -> dict[str, Any]:
    return {
        "seq": record.id, "stream": canonical_id(record.originator_id), "version": record.originator_version,
        "topic": record.topic, "event_id": record.event_id, "state": base64.b64encode(record.state).decode(),
        "prev_hash": record.prev_hash, "hash": record.hash,
    }


class _Bad(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq, self.reason = seq, reason


def verify_evidence(
    directory: Path, public_key: bytes | None = None, trusted: Checkpoint | None = None
) -> VerifyReport:
    """Checks a bundle offline: the checkpoint note's signature (with ``public_key`` when given, which
    must then be the bundle's key), every record's hash from its bytes and its inclusion proof against
    the signed root, that the records are the stream's versions 1..n, and — with ``trusted``, a
    checkpoint the auditor kept — that the signed tree extends it (a consistency proof) or equals it.
    Never raises for a bad bundle: the report says what failed.
    """
    checked, stream = 0, ""
    try:
        checkpoint = _checkpoint(directory, public_key)
        with _open(directory / RECORDS) as handle:
            for version, entry in enumerate(_lines(handle, RECORDS), start=1):
                stream = stream or entry["stream"]
                _check_record(entry, version, stream, checkpoint)
                checked += 1
        if checked == 0:
            raise _Bad(None, "the bundle has no records")
        if trusted is not None:
            _check_extends(directory, trusted, checkpoint, public_key or _read(directory / PUBLIC_KEY))
    except _Bad as bad:
        return VerifyReport(False, checked, checked, bad.seq, bad.reason, checkpoints=1)
    return VerifyReport(True, checked, checkpoint.seq, None, None, signed=checkpoint.seq,
                        checkpoints=1 + (trusted is not None), root_hash=checkpoint.root_hash)


def _check_record(entry: dict[str, Any], version: int, stream: str, checkpoint: Checkpoint) -> None:
    seq = entry["seq"]
    try:
        state = base64.b64decode(entry["state"], validate=True)
        path = [bytes.fromhex(step) for step in entry["audit_path"]]
    except (TypeError, ValueError):
        raise _Bad(seq, "the record's state or audit path is malformed") from None
    if entry["version"] != version or entry["stream"] != stream:
        raise _Bad(seq, f"the records are not the whole stream in order (expected version {version})")
    if not 1 <= seq <= checkpoint.seq:
        raise _Bad(seq, f"the record at seq {seq} is not in the tree of {checkpoint.seq} events")
    fields = (entry["stream"], entry["version"], entry["topic"], entry["event_id"])
    if link_hash_of_digest(entry["prev_hash"], seq, *fields, sha256(state).digest()) != entry["hash"]:
        raise _Bad(seq, "the record's hash does not match its bytes")
    if seq == checkpoint.seq and entry["hash"] != checkpoint.hash:
        raise _Bad(seq, "the record at the checkpoint's seq is not the chain head it signs")
    leaf = merkle.leaf_hash(bytes.fromhex(entry["hash"]))
    assert checkpoint.root_hash is not None
    if entry["leaf_index"] != seq - 1 or not merkle.verify_inclusion(seq - 1, checkpoint.seq, leaf, path,
                                                                     bytes.fromhex(checkpoint.root_hash)):
        raise _Bad(seq, f"the inclusion proof of seq {seq} does not lead to the signed root")


def _checkpoint(directory: Path, public_key: bytes | None) -> Checkpoint:
    bundle_key = _read(directory / PUBLIC_KEY)
    try:
        if public_key is not None and raw_public_key(public_key) != raw_public_key(bundle_key):
            raise _Bad(None, "the bundle's public key is not the given public key")
        return Checkpoint.from_note(_read(directory / CHECKPOINT).decode(), public_key or bundle_key)
    except (InvalidInputError, UnicodeDecodeError) as error:
        raise _Bad(None, error.detail if isinstance(error, InvalidInputError) else "checkpoint.txt is not UTF-8") \
            from None


def _check_extends(directory: Path, trusted: Checkpoint, checkpoint: Checkpoint, public_key: bytes) -> None:
    """The auditor's own checkpoint is genuine and the bundle's tree is it or grew from it."""
    if not trusted.verifies(public_key) or trusted.ledger_name != checkpoint.ledger_name:
        raise _Bad(trusted.seq, "your checkpoint does not verify with this ledger's public key")
    if trusted.root_hash is None:
        raise _Bad(trusted.seq, "your checkpoint predates the Merkle tree: keep a newer one")
    old_root, new_root = bytes.fromhex(trusted.root_hash), bytes.fromhex(checkpoint.root_hash or "")
    if trusted.seq > checkpoint.seq:
        raise _Bad(trusted.seq, f"the bundle's checkpoint (seq {checkpoint.seq}) is older than yours")
    if trusted.seq == checkpoint.seq:
        if old_root != new_root:
            raise _Bad(trusted.seq, f"the log forked: two signed trees of size {trusted.seq} differ")
        return
    with _open(directory / CONSISTENCY) as handle:
        for number, line in enumerate(handle, start=1):
            try:
                proof = orjson.loads(line)
                if proof["first"] != trusted.seq or proof["second"] != checkpoint.seq:
                    continue
                path = [bytes.fromhex(step) for step in proof["consistency_path"]]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise _Bad(None, f"{CONSISTENCY} line {number} is malformed") from None
            if not merkle.verify_consistency(trusted.seq, checkpoint.seq, old_root, new_root, path):
                raise _Bad(trusted.seq, f"the tree at seq {checkpoint.seq} does not extend yours at seq {trusted.seq}:"
                           " the log was rewritten")
            return
    raise _Bad(trusted.seq, f"the bundle has no consistency proof from your checkpoint at seq {trusted.seq}")


def _lines(handle: IO[bytes], name: str) -> Iterator[dict[str, Any]]:
    """Parsed NDJSON record lines, each checked to have the record fields with the right types."""
    for number, line in enumerate(handle, start=1):
        try:
            entry = orjson.loads(line)
            typed = all(type(entry[key]) is kind for key, kind in _RECORD.items())
            typed = typed and isinstance(entry["event_id"], str | None)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise _Bad(None, f"{name} line {number} is malformed") from None
        if not typed:
            raise _Bad(None, f"{name} line {number} has a field of the wrong type")
        yield entry


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError:
        raise _Bad(None, f"the bundle has no readable {path.name}") from None


def _read(path: Path) -> bytes:
    with _open(path) as handle:
        return handle.read()


def _readme(stream: str, records: list[LogRecord], checkpoint: Checkpoint, proofs_from: int) -> str:
    return f"""Evidence bundle of the Social Care Ledger "{checkpoint.ledger_name}"

Stream (retiree id): {stream}
Records: {len(records)} event(s), seq {records[0].id} to {records[-1].id} (records.ndjson, state base64 as
  stored, still encrypted), each with its RFC 9162 inclusion proof in the tree of {checkpoint.seq} events
Checkpoint: tree size {checkpoint.seq}, time {checkpoint.time} (checkpoint.txt, a C2SP tlog-checkpoint
  signed note; verifier-key.txt is its signed-note verifier key, public-key.pem the same key in PEM)
Consistency proofs: from {proofs_from} earlier checkpoint(s) to this one (consistency.ndjson)
Nothing about any other retiree is in here: other events appear only as hashes in the proofs.

Check it with `ledger verify --evidence DIR --public-key FILE [--from-checkpoint OLD]`, or by hand:
1. Open checkpoint.txt with the verifier key (Go's golang.org/x/mod/sumdb/note, or any C2SP
   signed-note verifier): its lines are the ledger's name, the tree size, the base64 root hash,
   "time ..." and "chain <hex chain head>".
2. For each record: hash = SHA-256( bytes.fromhex(prev_hash) || compact JSON [seq, stream, version, topic,
   event_id] || "\n" || SHA-256(base64-decoded state) ); versions run 1..n in order.
3. The leaf is SHA-256(0x00 || bytes.fromhex(hash)); audit_path is PATH(seq - 1, tree size) of RFC 9162
   section 2.1.3 (bottom up): verifying it must give the root hash of checkpoint.txt.
4. With an older checkpoint you kept (tree size M, root R): the line of consistency.ndjson with
   "first": M is PROOF(M, tree size) of RFC 9162 section 2.1.4, from R to the root of checkpoint.txt.
What it cannot show without revealing others: that the stream has no event after its last record.
"""
