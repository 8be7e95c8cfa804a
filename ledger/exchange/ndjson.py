"""NDJSON export and import of the ledger's business events.

One JSON object per line (UTF-8)::

    {"seq", "stream", "aggregate": "retiree"|"community"|"agency", "version", "type", "event_id",
     "recorded_by", "timestamp", "data": {...}}

``data`` holds the event's business fields in ``ledger.codec.to_plain`` form (ISO dates, Decimal as a
string); community lines also carry the community ``code``, agency lines the agency's ``area`` (a
``FundingAllocated`` line is a community line: the funding is recorded on the community it funds).
IdentityClaim events are internal and never
exported. Exports contain personal data (names, ID numbers): they are evidence files, not logs.

Import contract:

* every line becomes the command ``COMMAND_OF_EVENT[type]`` and goes through ``Ledger.handle_many``
  (the path of ``POST /v1/batches``), so the same rules as the API apply, in transactions of up to
  ``ledger.application.BATCH_CHUNK`` lines; ``Context(event_id=...)`` comes from the line, which makes re-importing a
  file idempotent (lines already present are replayed, nothing new is appended);
* ``seq``, ``version``, ``recorded_by`` and ``timestamp`` are informational: the target ledger assigns
  its own, and records the import's ``principal`` as the author;
* retiree stream ids from the file are mapped to the ids created by the file's own Enrolled lines
  (enrollment creates a new id); a retiree line whose stream the file did not enroll names a retiree of
  the target ledger directly. The map (old id → new id) is handed back in ``id_map``, also when a bad
  line stops the import (it then holds the retirees created before it); ``write_id_map`` stores it as CSV;
  community ids do not change (they derive from the community code);
* an import is a migration, not a backup: it gives retirees new ids, new seqs and hashes and records
  the importer as the author, so checkpoints of the source do not verify against the target
  (``ledger.exchange.backup`` keeps them);
* import STOPS at the first bad line (invalid JSON, unknown type, missing/extra/ill-typed field, broken
  rule) with ``ImportLineError(line_no, reason)``: every line before it is kept and nothing of the bad
  line or after it is saved. Blank lines are skipped. Reasons never quote values. A relocation line must
  name the community it leaves (``from_community``), which must be the retiree's community then.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, replace
from itertools import takewhile
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import orjson

from ledger import commands as c
from ledger.application import Ledger, event_data, event_type
from ledger.codec import to_plain
from ledger.domain import values as v
from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.errors import InvalidInputError, LedgerError, NotFoundError, RuleViolationError
from ledger.eventlog.base import LogRecord
from ledger.files import open_private

Progress = Callable[[int, int], None]
LINE_KEYS = frozenset({"seq", "stream", "aggregate", "version", "type", "event_id", "recorded_by", "timestamp", "data"})
REQUIRED_KEYS = ("stream", "aggregate", "type", "data")
COMMUNITY_COMMANDS = (c.RegisterCommunity, c.JoinStaff, c.RecordStaffLeft, c.RecordTraining, c.EnrolInCourse,
                      c.CompleteCourse, c.ObtainQualification, c.RecordFacility, c.AllocateFunding)
AGENCY_COMMANDS = (c.EstablishAgency, c.AdoptStandard, c.ReviseStandard, c.RetireStandard, c.OfferCourse)
# event fields the ledger derives from state, optional in the command (a precondition) but required in a file
REQUIRED: dict[type, tuple[str, ...]] = {c.Relocate: ("from_community",)}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,12})?$")


class ImportLineError(InvalidInputError):
    """Line ``line_no`` (1-based) of an import is bad; nothing of it was saved, lines before it were."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason


@dataclass(frozen=True)
class ImportReport:
    """``lines`` non-blank lines imported: ``appended`` new, ``replayed`` already in the ledger."""

    lines: int
    appended: int
    replayed: int
    retirees: int
    communities: int


# ---- export ------------------------------------------------------------------------------------


def export_ndjson(
    ledger: Ledger, out: IO[bytes], retiree_id: UUID | None = None, progress: Progress | None = None
) -> int:
    """Writes the log (or one retiree's stream) as NDJSON in ``seq`` order; returns the lines written.

    ``progress(done, total)`` counts log records read (IdentityClaim records included).
    """
    if retiree_id is None:  # the log up to its head when the export starts
        total = ledger.head()
        records: Iterator[LogRecord] = takewhile(lambda record: record.id <= total, ledger.iter_log())
    else:
        stream = ledger.log.select_stream(retiree_id)
        if not stream or not isinstance(ledger.mapper.to_domain_event(stream[0]), Retiree.Enrolled):
            raise NotFoundError("no retiree with this id")
        total, records = len(stream), iter(stream)
    codes: dict[UUID, str] = {}
    written = 0
    for done, record in enumerate(records, 1):
        line = _line(ledger, record, codes)
        if line is not None:
            out.write(orjson.dumps(line) + b"\n")
            written += 1
        if progress is not None and (done % 500 == 0 or done == total):
            progress(done, total)
    return written


def _line(ledger: Ledger, record: LogRecord, codes: dict[UUID, str]) -> dict[str, Any] | None:
    event = ledger.mapper.to_domain_event(record)
    data = to_plain(event_data(event))
    if isinstance(event, Retiree.Event):
        aggregate = "retiree"
    elif isinstance(event, Community.Event):
        aggregate = "community"
        if isinstance(event, Community.Registered):
            codes[event.originator_id] = event.code
        data["code"] = codes.get(event.originator_id) or ledger.repository.get(event.originator_id).code
    elif isinstance(event, Agency.Event):
        aggregate = "agency"
        if isinstance(event, Agency.AgencyEstablished):
            codes[event.originator_id] = event.area
        data["area"] = codes.get(event.originator_id) or ledger.repository.get(event.originator_id).area
    else:
        return None  # IdentityClaim: internal
    return {
        "seq": record.id,
        "stream": str(record.originator_id),
        "aggregate": aggregate,
        "version": record.originator_version,
        "type": event_type(event),
        "event_id": record.event_id,
        "recorded_by": getattr(event, "recorded_by", ""),
        "timestamp": event.timestamp.isoformat(),
        "data": dict(sorted(data.items())),
    }


# ---- import ------------------------------------------------------------------------------------


def import_ndjson(
    ledger: Ledger, lines: Iterable[bytes], principal: str = "import", progress: Progress | None = None,
    id_map: dict[str, UUID] | None = None,
) -> ImportReport:
    """Appends every line through ``Ledger.handle_many``; see the module docstring for the contract.

    ``progress(done, total)`` counts lines read; ``total`` is 0 when ``lines`` has no length. ``id_map``
    receives each retiree stream of the file (str) with the id its enrollment has in the ledger.
    """
    total = len(lines) if isinstance(lines, Sized) else 0
    enrolled: dict[str, int] = {}  # the file's retiree stream -> the index of its enrollment among the items
    line_of: list[int] = []  # item index -> line number
    kinds: Counter[type] = Counter()
    bad: list[ImportLineError] = []

    def items() -> Iterator[tuple[c.Command, c.Context]]:
        line_no = 0
        for line_no, raw in enumerate(lines, 1):
            if progress is not None and line_no % 200 == 0:
                progress(line_no, total)
            if not raw.strip():
                continue
            try:
                command, event_id, stream = _parse(raw, enrolled)
            except ValueError as error:
                bad.append(ImportLineError(line_no, str(error)))
                return  # what came before is saved; nothing of this line or after it
            if isinstance(command, c.Enroll):
                enrolled[stream] = len(line_of)
            line_of.append(line_no)
            kinds[type(command)] += 1
            yield command, c.Context(principal=principal, event_id=event_id)
        if progress is not None:
            progress(line_no, total or line_no)

    if progress is not None:
        progress(0, total)
    results = ledger.handle_many(items(), stop_at_error=True)
    streams: dict[str, UUID] = {} if id_map is None else id_map
    for stream, index in enrolled.items():
        result = results[index] if index < len(results) else None
        if isinstance(result, c.Appended):
            streams[stream] = UUID(result.id)
    for index, result in enumerate(results):
        if isinstance(result, LedgerError):
            reason = f"{result.rule}: {result.detail}" if isinstance(result, RuleViolationError) else result.detail
            raise ImportLineError(line_of[index], reason) from result
    if bad:
        raise bad[0]
    replayed = sum(1 for result in results if isinstance(result, c.Appended) and result.replayed)
    return ImportReport(len(results), len(results) - replayed, replayed, kinds[c.Enroll], kinds[c.RegisterCommunity])


def write_id_map(path: Path, id_map: dict[str, UUID]) -> int:
    """Writes an import's id map as CSV (``old_id,new_id`` header, one retiree a row; mode 0600)."""
    with open_private(path) as out:
        out.write(b"old_id,new_id\n")
        out.writelines(f"{old},{new}\n".encode() for old, new in id_map.items())
    return len(id_map)


def _parse(raw: bytes, enrolled: dict[str, int]) -> tuple[c.Command, UUID | None, str]:
    """(command, event id, file stream) of a line; ``ValueError`` says what is wrong. A retiree line of a
    stream the file enrolled targets that enrollment (``c.Ref``): the ledger gives it a new id."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("invalid JSON") from None
    if not isinstance(line, dict):
        raise ValueError("a line must be a JSON object")
    extra = sorted(set(line) - LINE_KEYS)
    missing = [key for key in REQUIRED_KEYS if key not in line]
    if extra or missing:
        raise ValueError(f"unexpected key {_name(extra[0])}" if extra else f"missing key {missing[0]!r}")
    kind, data, stream, event_id = line["type"], line["data"], line["stream"], line.get("event_id")
    command_class = c.COMMAND_OF_EVENT.get(kind) if isinstance(kind, str) else None
    if command_class is None:
        raise ValueError(f"unknown event type {_name(kind)}")
    community = command_class in COMMUNITY_COMMANDS
    agency = command_class in AGENCY_COMMANDS
    aggregate = "community" if community else "agency" if agency else "retiree"
    if line["aggregate"] != aggregate:
        raise ValueError(f"aggregate must be {aggregate!r} for {kind}")
    if not isinstance(data, dict):
        raise ValueError("data must be a JSON object")
    if not isinstance(stream, str) or _uuid(stream) is None:
        raise ValueError("stream must be a UUID")
    if event_id is not None and (not isinstance(event_id, str) or _uuid(event_id) is None):
        raise ValueError("event_id must be a UUID")
    if command_class is c.Enroll and stream in enrolled:
        raise ValueError("this stream was already enrolled earlier in the file")
    fields = dict(data)
    taken = "community" if community else "retiree_id"  # filled in from the line's code or stream
    if taken in fields:
        raise ValueError(f"unexpected field {taken!r}")
    if community:
        code = fields.pop("code", None)
        if not isinstance(code, str):
            raise ValueError("data.code must be the community code (a string)")
        if stream != str(v.community_uuid(code)):
            raise ValueError("stream does not belong to the community code")
        fields["code" if command_class is c.RegisterCommunity else "community"] = code
    elif agency:
        if not isinstance(fields.get("area"), str) or stream != str(v.agency_uuid(fields["area"])):
            raise ValueError("data.area must be the agency's area, the one its stream belongs to")
    elif command_class is not c.Enroll:
        fields["retiree_id"] = _uuid(stream)
    for name in REQUIRED.get(command_class, ()):
        if not isinstance(fields.get(name), str):
            raise ValueError(f"field {name!r}: expected a string" if name in fields else f"missing field {name!r}")
    try:
        command = c.parse(command_class, fields)
    except InvalidInputError as error:
        raise ValueError(error.detail) from None
    if stream in enrolled and not community and not agency:
        command = replace(command, retiree_id=c.Ref(enrolled[stream]))  # type: ignore[call-arg, type-var]
    return command, _uuid(event_id) if event_id is not None else None, stream


def _uuid(text: str) -> UUID | None:
    """The UUID written in canonical form (lower-case, with dashes), else None."""
    try:
        value = UUID(text)
    except ValueError:
        return None
    return value if str(value) == text else None


def _name(value: object) -> str:
    """A short printable form of a key or type name from the file (never a data value)."""
    text = value if isinstance(value, str) else type(value).__name__
    return repr(text[:40])
