"""The application service: commands (load, decide, save) and queries over the event log.

``Ledger.handle(command, context)`` is the only way events are appended. It is atomic (all
events of one command or none) and idempotent per event id. Queries return aggregates or
``HistoryEntry`` rows; they never write.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, Mapper, PersistenceError, Transcoder
from eventsourcing.utils import Environment, EnvType

from ledger import codec
from ledger import commands as cmd
from ledger.codec import OrjsonTranscoder
from ledger.config import Settings
from ledger.domain.community import Community
from ledger.domain.idempotency import IdempotencyClaim
from ledger.domain.identity import IdentityClaim
from ledger.domain.retiree import Retiree
from ledger.domain.values import NAMESPACE, community_uuid
from ledger.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    NotFoundError,
    RuleViolationError,
    UnavailableError,
    VersionConflictError,
)
from ledger.eventlog.base import EventLog, LogRecord
from ledger.files import private_file, private_folder
from ledger.handlers import HANDLERS, Unit
from ledger.keys import IdentityHasher, data_key, load_or_create_key
from ledger.sealing import CheckedSnapshots, SealingMapper

COMMON_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a stream, decoded, at its place in the global log."""

    seq: int
    stream: str
    version: int
    type: str
    timestamp: datetime
    recorded_by: str
    event_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    business_date: date | None = None


def event_type(event: object) -> str:
    return type(event).__name__


def fingerprint(command: cmd.Command, context: cmd.Context) -> str:
    """The digest of a request as the ledger sees it: the command's kind, every field (its target
    included) and the expected version; over HTTP that is the method, path and body."""
    fields = {f.name: getattr(command, f.name) for f in dataclasses.fields(command)}
    canonical = codec.dumps({"kind": type(command).__name__, "fields": fields,
                             "expected_version": context.expected_version})
    return hashlib.sha256(canonical).hexdigest()


def event_data(event: object) -> dict[str, Any]:
    """The business fields of an event (no ids, version, time or author)."""
    return {k: v for k, v in vars(event).items() if k not in COMMON_FIELDS and k not in ("recorded_by", "event_id")}


def _fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event runtime-protocol ``isinstance`` check (which
    cost about a third of an append): every stored event of this ledger is a mutating domain event."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Ledger(Application[UUID]):
    """The Social Care Ledger application (see DESIGN.md sections 2 and 3)."""

    name = "ledger"
    RACE_WINDOW_S = 10.0

    def __init__(self, settings: Settings, env: EnvType | None = None, clock: Callable[[], date] = date.today) -> None:
        self.settings = settings
        private_folder(settings.home)
        self.snapshotting_intervals = {  # type: ignore[misc]  # per ledger, from settings
            Retiree: settings.snapshot_interval, Community: settings.snapshot_interval,
        }
        self._hasher = IdentityHasher(load_or_create_key(settings.lookup_key_path))
        self._clock = clock
        self.after_append: list[Callable[[], None]] = []
        super().__init__(env)
        private_file(settings.events_path)

    # ---- wiring -------------------------------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Configuration comes from ``Settings`` only (not from the process environment)."""
        base: dict[str, str] = {"IS_SNAPSHOTTING_ENABLED": "y"}
        if self.settings.aggregate_cache:  # bounded LRU; a hit reads only the events after the cached version
            base |= {"AGGREGATE_CACHE_MAXSIZE": str(self.settings.aggregate_cache), "AGGREGATE_CACHE_FASTFORWARD": "y"}
        if self.settings.backend == "sqlite":
            base |= {
                "PERSISTENCE_MODULE": "ledger.eventlog.sqlite:LedgerSQLiteFactory",
                "SQLITE_DBNAME": str(self.settings.events_path),
            }
        else:
            base |= {
                "PERSISTENCE_MODULE": "ledger.eventlog.kafka:KafkaFactory",
                "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap,
                "KAFKA_TOPIC": self.settings.kafka_topic,
                "KAFKA_INDEX_PATH": str(self.settings.events_path),
                "KAFKA_TRANSACTIONAL_ID": f"{self.settings.ledger_name}-writer",
                "KAFKA_WRITER_KEY": load_or_create_key(self.settings.writer_key_path).hex(),
                **dict(self.settings.kafka_options),
            }
        if not self.settings.encrypt:  # nothing could authenticate a snapshot: take and read none
            base["IS_SNAPSHOTTING_ENABLED"] = "n"
        base.update(env or {})
        return Environment(name, base)

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[UUID]:
        """State sealed to its place with the data key (``ledger.sealing``); plain without encryption."""
        key = base64.b64decode(data_key(self.settings)) if self.settings.encrypt else None
        return SealingMapper(self.construct_transcoder(), key, lambda stream, version: self.log.record_at(stream,
                                                                                                          version))

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """Snapshots the repository trusts only when they open under their binding (else: replay)."""
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return CheckedSnapshots(cast(SealingMapper, self.mapper), recorder)

    @property
    def log(self) -> EventLog:  # type: ignore[override]
        return cast(EventLog, self.recorder)

    # ---- commands -----------------------------------------------------------------------------

    def handle(self, command: cmd.Command, context: cmd.Context | None = None) -> cmd.Appended:
        """Decides and appends the events of one command; see the module docstring.

        The command is validated against its declaration, then its handler (``ledger.handlers``)
        loads, checks access and lets the aggregate decide. Without ``expected_version`` the caller
        asked for no concurrency check, so a save that lost a race to another writer of the same
        stream is decided again on the fresh state, with a growing random pause, for at most
        ``RACE_WINDOW_S`` seconds; with it, a lost race is a ``VersionConflictError``. A repeated
        idempotency key or event id returns the first result if it recorded the same kind of event
        on the same stream, else ``IdempotencyKeyReusedError``; nothing is appended either way.
        """
        context = context or cmd.Context()
        command = cmd.validate(command)
        handler = HANDLERS[type(command)]
        event_id = self._event_id(context)
        if context.idempotency_key is not None or context.event_id is not None:
            replay = self._replay(command, event_id, context)
            if replay is not None:
                return replay
        unit = Unit(self, context, event_id, context.today or self._clock())
        deadline = time.monotonic() + self.RACE_WINDOW_S
        for attempt in itertools.count():
            decision = handler(unit, command)
            aggregates = [*decision.aggregates, *self._idempotency_claim(command, context, event_id)]
            pending = [event for aggregate in aggregates for event in aggregate.pending_events]
            event_ids = [str(event.event_id) for event in pending]  # type: ignore[attr-defined]
            try:
                recordings = self.save(*aggregates, event_ids=event_ids)
                break
            except IntegrityError:
                replay = self._replay(command, event_id, context)
                if replay is not None:
                    return replay
                if isinstance(command, cmd.Enroll):
                    raise RuleViolationError("one_enrollment_per_id_number", "ID number already enrolled") from None
                if isinstance(command, cmd.RegisterCommunity):
                    raise ConflictError(f"community {command.code} is already registered") from None
                if context.expected_version is not None or time.monotonic() > deadline:
                    raise VersionConflictError("the stream changed meanwhile; reload and retry") from None
                time.sleep(random.uniform(0, 0.001 * 2 ** min(attempt, 6)))  # let the winner land, spread retries
            except PersistenceError as error:
                raise UnavailableError(f"the event log is unavailable: {type(error).__name__}") from None
        for hook in self.after_append:
            hook()
        main = decision.aggregates[0]
        return cmd.Appended(id=decision.public_id, version=main.version, seq=recordings[0].notification.id)

    def _event_id(self, context: cmd.Context) -> UUID:
        if context.event_id is not None:
            return context.event_id
        if context.idempotency_key is not None:
            return uuid5(uuid5(NAMESPACE, f"idempotency:{context.principal}"), context.idempotency_key)
        return uuid4()

    def _idempotency_claim(self, command: cmd.Command, context: cmd.Context, event_id: UUID) -> list[Aggregate]:
        """The claim saved with a keyed request's events: what the key answered (its fingerprint)."""
        if context.idempotency_key is None:
            return []
        return [IdempotencyClaim.claim(claim_id=uuid5(event_id, "idempotency-claim"),
                                       fingerprint=fingerprint(command, context), recorded_by=context.recorded_by,
                                       event_id=uuid5(event_id, "idempotency"))]

    def _replay(self, command: cmd.Command, event_id: UUID, context: cmd.Context) -> cmd.Appended | None:
        """The first answer to this event id, if it was appended; refused if it was another request."""
        found = self.log.find_event(str(event_id))
        if found is None:
            return None
        declared = cmd.spec(type(command))
        stream = self._target_stream(command)
        reused = event_type(self.mapper.to_domain_event(found)) != declared.event or (
            stream is not None and str(found.originator_id) != str(stream))
        if context.idempotency_key is not None and not reused:
            claim = self._claim_of(event_id)
            reused = claim is not None and claim.fingerprint != fingerprint(command, context)
        if reused:
            raise IdempotencyKeyReusedError("this Idempotency-Key was already used for a different request")
        code = self._community_code(command)
        public_id = code if code is not None else str(found.originator_id)
        return cmd.Appended(id=public_id, version=found.originator_version, seq=found.id, replayed=True)

    @staticmethod
    def _community_code(command: cmd.Command) -> str | None:
        """The code of the community stream a community command writes (its public id)."""
        if isinstance(command, cmd.RegisterCommunity):
            return command.code
        if isinstance(command, cmd.JoinStaff | cmd.RecordStaffLeft | cmd.RecordTraining):
            return command.community
        return None

    @staticmethod
    def _target_stream(command: cmd.Command) -> UUID | None:
        """The stream a command names (None for an enrollment, whose stream is new)."""
        if isinstance(command, cmd.Enroll):
            return None
        if isinstance(command, cmd.CommunityCommand):
            return community_uuid(command.code if isinstance(command, cmd.RegisterCommunity) else command.community)
        return command.retiree_id

    def _claim_of(self, event_id: UUID) -> IdempotencyClaim | None:
        """The idempotency claim saved with the request of ``event_id`` (None before claims were kept)."""
        try:
            return cast(IdempotencyClaim, self.repository.get(uuid5(event_id, "idempotency-claim")))
        except AggregateNotFoundError:
            return None

    # ---- what handlers ask -------------------------------------------------------------------

    def claim_id(self, id_number: str) -> UUID:
        """The stream id of the identity claim of an ID number (a keyed hash: the number is never a key)."""
        return self._hasher.claim_id(id_number)

    def staff_active(self, code: str, staff_id: str, day: date) -> bool:
        try:
            return self.community(code, read_only=True).staff_active_on(staff_id, day)
        except NotFoundError:
            return False

    def stream_exists(self, aggregate_id: UUID) -> bool:
        return bool(self.events.recorder.select_events(aggregate_id, limit=1))

    # ---- queries ------------------------------------------------------------------------------

    def retiree(self, retiree_id: UUID, *, version: int | None = None, as_of: date | None = None) -> Retiree:
        """The retiree now, at a stream ``version``, or ``as_of`` a business date.

        ``as_of`` folds, in recorded order, the events whose business date (effective date,
        delivery date, ...) is on or before that day.
        """
        if as_of is not None:
            return self._retiree_as_of(retiree_id, as_of)
        aggregate = self._get(retiree_id, version)
        if not isinstance(aggregate, Retiree):
            raise NotFoundError("no retiree with this id")
        if version is not None and aggregate.version != version:
            raise NotFoundError(f"the retiree has no version {version}")
        return aggregate

    def _retiree_as_of(self, retiree_id: UUID, as_of: date) -> Retiree:
        events = list(self.events.get(retiree_id))
        if not events or not isinstance(events[0], Retiree.Enrolled):
            raise NotFoundError("no retiree with this id")
        if events[0].business_date > as_of:
            raise NotFoundError(f"the retiree was not enrolled as of {as_of.isoformat()}")
        retiree = cast(Retiree, events[0].mutate(None))
        for event in events[1:]:
            if cast(Retiree.Event, event).business_date <= as_of:
                event.apply(retiree)  # type: ignore[attr-defined]
                retiree.version = event.originator_version
        return retiree

    def community(self, code: str, *, read_only: bool = False) -> Community:
        """The community of ``code``; ``read_only`` may hand out the cached object itself (no copy):
        the caller must not change it."""
        aggregate = self._get(community_uuid(code), None, read_only=read_only)
        if not isinstance(aggregate, Community):
            raise NotFoundError("no community with this code")
        return aggregate

    def _get(self, aggregate_id: UUID, version: int | None, *, read_only: bool = False) -> Aggregate:
        try:
            return cast(Aggregate, self.repository.get(aggregate_id, version=version, projector_func=_fold,
                                                       deepcopy_from_cache=not read_only))
        except AggregateNotFoundError:
            raise NotFoundError("not found") from None

    def find_retiree(self, id_number: str) -> UUID | None:
        """Looks a retiree up by national ID number through the keyed hash."""
        try:
            claim: IdentityClaim = self.repository.get(self._hasher.claim_id(id_number))
        except AggregateNotFoundError:
            return None
        return claim.retiree_id

    def history(
        self, stream_id: UUID, *, version: int | None = None, as_of: date | None = None
    ) -> list[HistoryEntry]:
        """A stream's events in order; up to a ``version``, or those in effect ``as_of`` a business date.

        ``NotFoundError`` for an unknown stream or a version it has not reached.
        """
        records = self.log.select_stream(stream_id)
        if not records:
            raise NotFoundError("no stream with this id")
        if version is not None and version > records[-1].originator_version:
            raise NotFoundError(f"the stream has no version {version}")
        entries = [self.entry(record) for record in records]
        return [
            entry for entry in entries
            if (version is None or entry.version <= version)
            and (as_of is None or entry.business_date is None or entry.business_date <= as_of)
        ]

    def entry(self, record: LogRecord) -> HistoryEntry:
        event = cast(Aggregate.Event, self.mapper.to_domain_event(record))
        return HistoryEntry(
            seq=record.id,
            stream=str(record.originator_id),
            version=record.originator_version,
            type=event_type(event),
            timestamp=event.timestamp,
            recorded_by=getattr(event, "recorded_by", ""),
            event_id=record.event_id,
            data=event_data(event),
            prev_hash=record.prev_hash,
            hash=record.hash,
            business_date=getattr(event, "business_date", None),
        )

    def read_log(self, after: int = 0, limit: int = 100) -> list[LogRecord]:
        """Records with ``seq > after``, at most ``limit``, in ``seq`` order."""
        return cast(list[LogRecord], list(self.log.select_notifications(after, limit, inclusive_of_start=False)))

    def iter_log(self, after: int = 0, batch: int = 1000) -> Iterator[LogRecord]:
        while True:
            records = self.read_log(after, batch)
            if not records:
                return
            yield from records
            after = records[-1].id

    def head(self) -> int:
        return self.log.max_notification_id() or 0
