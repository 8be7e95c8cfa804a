"""Evidence bundles: one retiree's records with the proof that they are in the signed log.

A bundle is a folder an auditor can check offline, without any ledger key:

* ``records.ndjson`` — every event of the retiree's stream, in full (state base64, as stored);
* ``links.ndjson`` — for every OTHER event from the retiree's first event to the checkpoint, only
  ``seq, stream, version, topic, event_id, state_sha256, prev_hash, hash`` (no state, no personal data);
* ``checkpoint.json`` — the latest signed checkpoint; ``public-key.pem`` — the ledger's public key;
* ``README.txt`` — what the files are and how to check them by hand.

Records and links together give one link per seq; recomputing ``ledger.integrity.link_hash_of_digest``
along them must end at the checkpoint's hash, which the signature vouches for.
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
from ledger.integrity.chain import link_hash_of_digest, load_public_key, raw_public_key
from ledger.integrity.checkpoints import SIGNING_DOMAIN, Checkpoint, CheckpointStore
from ledger.integrity.verify import VerifyReport

if TYPE_CHECKING:
    from ledger.application import Ledger

RECORDS, LINKS, CHECKPOINT, PUBLIC_KEY, README = (
    "records.ndjson", "links.ndjson", "checkpoint.json", "public-key.pem", "README.txt"
)
_HEADER = {"seq": int, "stream": str, "version": int, "topic": str, "state_sha256": str, "prev_hash": str, "hash": str}


def export_evidence(ledger: Ledger, store: CheckpointStore, retiree_id: UUID | str, out_dir: Path) -> Path:
    """Writes the evidence bundle of ``retiree_id`` into ``out_dir`` (created if needed) and returns it.

    Reads the log once from the retiree's first event to the latest checkpoint. Raises
    ``NotFoundError`` (no such stream, no public key), ``ConflictError`` (no checkpoint yet, the
    retiree has events after the latest checkpoint — make one first — or ``out_dir`` already holds
    a bundle) and ``IntegrityViolationError`` (the checkpoint does not verify with the stored key).
    """
    stream = ledger.log.select_stream(retiree_id)
    if not stream:
        raise NotFoundError("no retiree with this id")
    checkpoint = store.latest()
    if checkpoint is None:
        raise ConflictError("there is no signed checkpoint yet: run `ledger checkpoint` first")
    if stream[-1].id > checkpoint.seq:
        raise ConflictError(
            f"the retiree's latest event (seq {stream[-1].id}) is after the latest checkpoint "
            f"(seq {checkpoint.seq}): run `ledger checkpoint` first"
        )
    public_key = store.public_key()
    if public_key is None:
        raise NotFoundError("the checkpoint store has no public key: run `ledger keys init`")
    if not checkpoint.verifies(public_key):
        raise IntegrityViolationError(f"the checkpoint at seq {checkpoint.seq} does not verify with the public key")
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = [name for name in (RECORDS, LINKS, CHECKPOINT, PUBLIC_KEY, README) if (out_dir / name).exists()]
    if existing:
        raise ConflictError(f"{out_dir} already holds an evidence bundle ({', '.join(existing)})")
    own = {record.id for record in stream}
    with (out_dir / RECORDS).open("wb") as handle:
        for record in stream:
            handle.write(orjson.dumps(_link(record) | {"state": base64.b64encode(record.state).decode()}) + b"\n")
    links = 0
    with (out_dir / LINKS).open("wb") as handle:
        for record in ledger.iter_log(after=stream[0].id - 1):
            if record.id > checkpoint.seq:
                break
            if record.id not in own:
                handle.write(orjson.dumps(_link(record)) + b"\n")
                links += 1
    (out_dir / CHECKPOINT).write_text(checkpoint.to_json() + "\n")
    (out_dir / PUBLIC_KEY).write_bytes(public_key)
    (out_dir / README).write_text(_readme(canonical_id(stream[0].originator_id), stream, links, checkpoint))
    return out_dir


def _link(record: LogRecord) -> dict[str, Any]:
    return {
        "seq": record.id, "stream": canonical_id(record.originator_id), "version": record.originator_version,
        "topic": record.topic, "event_id": record.event_id, "state_sha256": sha256(record.state).hexdigest(),
        "prev_hash": record.prev_hash, "hash": record.hash,
    }


class _Bad(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq, self.reason = seq, reason


def verify_evidence(directory: Path, public_key: bytes | None = None) -> VerifyReport:
    """Checks a bundle offline: the checkpoint signature (and, if ``public_key`` is given, that it is
    the bundle's key), each record's state against its digest, the stream's completeness (versions
    1..n, no event of the stream hidden among the links) and one unbroken chain from the first
    record to the checkpoint's hash. Never raises for a bad bundle: the report says what failed.
    """
    checked = 0
    try:
        checkpoint = _checkpoint(directory, public_key)
        records = _records(directory)
        stream = records[min(records)]["stream"]
        prev_hash, seq = records[min(records)]["prev_hash"], min(records)
        with _open(directory / LINKS) as handle:
            links = _lines(handle, LINKS)
            for seq in range(min(records), checkpoint.seq + 1):
                entry = records.pop(seq, None)
                if entry is None:
                    entry = next(links, None)
                    if entry is None or entry["seq"] != seq:
                        raise _Bad(seq, f"the bundle has no record or link for seq {seq}")
                    if entry["stream"] == stream:
                        raise _Bad(seq, "an event of the retiree's stream is left out of the records")
                if entry["prev_hash"] != prev_hash:
                    raise _Bad(seq, "prev_hash does not link to the previous event")
                digest = bytes.fromhex(entry["state_sha256"])
                fields = (entry["stream"], entry["version"], entry["topic"], entry["event_id"])
                if link_hash_of_digest(prev_hash, seq, *fields, digest) != entry["hash"]:
                    raise _Bad(seq, "hash does not match the event")
                prev_hash, checked = entry["hash"], checked + 1
            if next(links, None) is not None or records:
                raise _Bad(None, f"the bundle holds events after the checkpoint at seq {checkpoint.seq}")
        if prev_hash != checkpoint.hash:
            raise _Bad(checkpoint.seq, "the chain does not end at the checkpoint's hash")
    except _Bad as bad:
        return VerifyReport(False, checked, checked, bad.seq, bad.reason, checkpoints=1)
    return VerifyReport(True, checked, checkpoint.seq, None, None, signed=checkpoint.seq, checkpoints=1)


def _checkpoint(directory: Path, public_key: bytes | None) -> Checkpoint:
    try:
        checkpoint = Checkpoint.from_json(_read(directory / CHECKPOINT))
        bundle_key = _read(directory / PUBLIC_KEY)
        key = load_public_key(bundle_key)
        if public_key is not None and raw_public_key(public_key) != raw_public_key(bundle_key):
            raise _Bad(None, "the bundle's public key is not the given public key")
    except InvalidInputError as error:
        raise _Bad(None, error.detail) from None
    if not checkpoint.verifies(key):
        raise _Bad(checkpoint.seq, "the checkpoint signature does not verify with the public key")
    return checkpoint


def _records(directory: Path) -> dict[int, dict[str, Any]]:
    """The full records by seq, each state checked against its digest; versions must run 1..n."""
    with _open(directory / RECORDS) as handle:
        records = {entry["seq"]: entry for entry in _lines(handle, RECORDS)}
    if not records:
        raise _Bad(None, "the bundle has no records")
    ordered = [records[seq] for seq in sorted(records)]
    for version, entry in enumerate(ordered, start=1):
        try:
            state = base64.b64decode(entry["state"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise _Bad(entry["seq"], "the record's state is missing or not base64") from None
        if sha256(state).hexdigest() != entry["state_sha256"]:
            raise _Bad(entry["seq"], "the record's state does not match its digest")
        if entry["stream"] != ordered[0]["stream"] or entry["version"] != version:
            raise _Bad(entry["seq"], f"the records are not the whole stream (expected version {version})")
    return records


def _lines(handle: IO[bytes], name: str) -> Iterator[dict[str, Any]]:
    """Parsed NDJSON lines, each checked to have the link fields with the right types."""
    for number, line in enumerate(handle, start=1):
        try:
            entry = orjson.loads(line)
            typed = all(type(entry[key]) is kind for key, kind in _HEADER.items())
            typed = typed and isinstance(entry["event_id"], str | None)
            typed = typed and len(bytes.fromhex(entry["state_sha256"])) == 32
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
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


def _readme(stream: str, records: list[LogRecord], links: int, checkpoint: Checkpoint) -> str:
    return f"""Evidence bundle of the Social Care Ledger "{checkpoint.ledger_name}"

Stream (retiree id): {stream}
Records: {len(records)} event(s), seq {records[0].id} to {records[-1].id} (records.ndjson, state base64 as stored)
Links: {links} other event(s), seq {records[0].id} to {checkpoint.seq} (links.ndjson, no state)
Checkpoint: seq {checkpoint.seq}, time {checkpoint.time} (checkpoint.json), signed with public-key.pem

Check it with `ledger verify --evidence DIR [--public-key FILE]`, or by hand:
1. Merge records and links by seq: there is exactly one entry for every seq from the first record to
   the checkpoint's seq. Every event of the stream is a record (versions 1..n), none is a link.
2. For a record, state_sha256 = SHA-256 of the base64-decoded state.
3. For each entry in seq order: hash = SHA-256( bytes.fromhex(prev_hash)
   || compact JSON [seq, stream, version, topic, event_id] || "\\n" || bytes.fromhex(state_sha256) ),
   and prev_hash equals the previous entry's hash.
4. The last hash equals checkpoint.json "hash", and "signature" (hex) is a valid Ed25519 signature by
   public-key.pem of the compact JSON ["{SIGNING_DOMAIN}", ledger_name, seq, hash, time].
"""
