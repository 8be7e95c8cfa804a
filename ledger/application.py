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
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, Mapper, PersistenceError, Recording, Transcoder
from eventsourcing.utils import Environment, EnvType

from ledger import codec
from ledger import commands as cmd
from ledger.codec import OrjsonTranscoder
from ledger.config import Settings
from ledger.decisions import DecisionCache
from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.idempotency import IdempotencyClaim
from ledger.domain.identity import IdentityClaim
from ledger.domain.retiree import Retiree
from ledger.domain.values import NAMESPACE, agency_uuid, community_uuid
from ledger.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    NotTheWriterError,
    RuleViolationError,
    UnavailableError,
    VersionConflictError,
)
from ledger.eventlog.base import EventLog, LogRecord
from ledger.files import private_file, private_folder
from ledger.handlers import HANDLERS, Decision, Handler, Unit
from ledger.keys import IdentityHasher, data_key, load_or_create_key
from ledger.sealing import CheckedSnapshots, SealingMapper

BATCH_CHUNK = 500
"""Commands per transaction in ``Ledger.handle_many``."""
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


class HistoryCache:
    """Decoded history entries per stream, each a prefix of the stream (versions 1..n, in order).

    The log is append-only, so a cached prefix stays valid: a read takes what it holds and reads
    only what comes after it. LRU over streams, at most ``max_entries`` entries in all (0 keeps
    nothing); one lock guards it (the API reads from a thread pool). The entries hold decrypted
    data in memory, as every read does: they are shared and never logged; callers must not change them.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._streams: OrderedDict[UUID, tuple[HistoryEntry, ...]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, stream_id: UUID) -> tuple[HistoryEntry, ...]:
        """The cached prefix of the stream (empty when none); the entry of version ``v`` is at ``v - 1``."""
        with self._lock:
            entries = self._streams.get(stream_id, ())
            if entries:
                self._streams.move_to_end(stream_id)
            return entries

    def extend(self, stream_id: UUID, entries: Sequence[HistoryEntry]) -> None:
        """Keeps ``entries`` if they continue the cached prefix version by version; else (another
        read added them first, or they start after a gap) keeps nothing."""
        if not self.max_entries or not entries:
            return
        with self._lock:
            cached = self._streams.get(stream_id, ())
            if [e.version for e in entries] != list(range(len(cached) + 1, len(cached) + len(entries) + 1)):
                return
            grown = (cached + tuple(entries))[: self.max_entries]
            self._streams[stream_id] = grown
            self._streams.move_to_end(stream_id)
            self._size += len(grown) - len(cached)
            while self._size > self.max_entries:  # the least recently used go first, never this stream
                _, evicted = self._streams.popitem(last=False)
                self._size -= len(evicted)


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


Decided = tuple[int, cmd.Command, cmd.Context, Decision, int]
"""A command of a chunk decided but not saved: its result index, the command as given, its context,
the decision and the index of its first event in the chunk."""


def _decided(handler: Handler, command: cmd.Command, unit: Unit) -> tuple[Unit, Decision]:
    """The handler's decision; a refusal on cached state is decided again on fresh loads (a refusal
    saves nothing, so no write transaction would catch a stale entry behind it)."""
    try:
        return unit, handler(unit, command)
    except LedgerError:
        if not unit.cached:
            raise
    unit = dataclasses.replace(unit, cached=False, reads={})
    return unit, handler(unit, command)


def _unchanged(reads: dict[UUID, int]) -> dict[str, Any]:
    """The save's ``unchanged`` argument for the streams an attempt only read (none: no argument)."""
    return {"unchanged": reads} if reads else {}


def _keyed(context: cmd.Context) -> bool:
    return context.idempotency_key is not None or context.event_id is not None


def _resolved(command: cmd.Command, results: list[cmd.Appended | LedgerError]) -> cmd.Command:
    """``command`` with a ``cmd.Ref`` target replaced by the id the referred command created."""
    target = cmd.spec(type(command)).target
    if target is None or not isinstance(ref := getattr(command, target), cmd.Ref):
        return command
    if not 0 <= ref.index < len(results):
        raise InvalidInputError(f"{target} refers to command {ref.index}, which does not come before this one")
    found = results[ref.index]
    if not isinstance(found, cmd.Appended):
        raise InvalidInputError(f"{target} refers to command {ref.index}, which failed")
    return cast(cmd.Command, dataclasses.replace(cast(Any, command), **{target: UUID(found.id)}))


class Ledger(Application[UUID]):
    """The Social Care Ledger application (see DESIGN.md sections 2 and 3)."""

    name = "ledger"
    RACE_WINDOW_S = 10.0

    def __init__(self, settings: Settings, env: EnvType | None = None, clock: Callable[[], date] = date.today) -> None:
        self.settings = settings
        private_folder(settings.home)
        self.snapshotting_intervals = {  # type: ignore[misc]  # per ledger, from settings
            Retiree: settings.snapshot_interval, Community: settings.snapshot_interval,
            Agency: settings.snapshot_interval,
        }
        self._hasher = IdentityHasher(load_or_create_key(settings.lookup_key_path))
        self._clock = clock
        self.after_append: list[Callable[[], None]] = []
        self.on_handled: list[Callable[[str, str, float | None], None]] = []
        """Called with (event type, outcome, seconds or None in a batch) for every command handled:
        outcome ``appended``, ``replayed`` or the refusal (``version_conflict``, ``access_denied`` ...)."""
        self.history_cache = HistoryCache(settings.history_cache)
        self.decisions = DecisionCache(0)
        super().__init__(env)
        private_file(settings.events_path)
        if getattr(self.log, "checks_unchanged", False):  # else every command decides on fresh loads
            self.decisions = DecisionCache(settings.aggregate_cache)

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
                **({"KAFKA_INDEX_URL": self.settings.index_url} if self.settings.index_backend == "postgresql" else {}),
                **({"KAFKA_READ_ONLY": "y"} if self.settings.writer_url else {}),
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
        """Decides and appends the events of one command (``_decide_and_save``), told to ``on_handled``."""
        self._check_writer()
        started = time.perf_counter()
        try:
            appended = self._decide_and_save(command, context)
        except Exception as error:
            self._observe(command, _outcome(error), time.perf_counter() - started)
            raise
        self._observe(command, _outcome(appended), time.perf_counter() - started)
        return appended

    def _check_writer(self) -> None:
        """A reader process (``Settings.writer_url``) appends nothing: ``NotTheWriterError`` names the writer."""
        if self.settings.writer_url:
            raise NotTheWriterError(self.settings.writer_url)

    def _observe(self, command: object, outcome: str, seconds: float | None) -> None:
        kind = cmd.EVENT_OF_COMMAND.get(type(command), type(command).__name__)
        for observer in self.on_handled:
            observer(kind, outcome, seconds)

    def _decide_and_save(self, command: cmd.Command, context: cmd.Context | None = None) -> cmd.Appended:
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
        today = context.today or self._clock()
        deadline = time.monotonic() + self.RACE_WINDOW_S
        for attempt in itertools.count():
            try:
                unit, decision = _decided(handler, command, Unit(
                    self, context, event_id, today, cached=attempt == 0 and self._decides_from_cache(context)))
            except LedgerError:
                if (replay := self._landed(command, event_id, context)) is None:
                    raise
                return replay
            aggregates = [*decision.aggregates, *self._idempotency_claim(command, context, event_id)]
            pending = [event for aggregate in aggregates for event in aggregate.pending_events]
            event_ids = [str(event.event_id) for event in pending]  # type: ignore[attr-defined]
            try:
                recordings = self.save(*aggregates, event_ids=event_ids, **_unchanged(unit.reads))
                break
            except IntegrityError:
                if unit.cached:  # perhaps decided on a state another process has moved past: decide afresh
                    self.decisions.evict([*unit.reads, *(aggregate.id for aggregate in decision.aggregates)])
                replay = self._replay(command, event_id, context)
                if replay is not None:
                    return replay
                if isinstance(command, cmd.Enroll):
                    raise RuleViolationError("one_enrollment_per_id_number", "ID number already enrolled") from None
                if isinstance(command, cmd.RegisterCommunity):
                    raise ConflictError(f"community {command.code} is already registered") from None
                if isinstance(command, cmd.EstablishAgency):
                    raise ConflictError(f"the agency of {command.area} is already established") from None
                if context.expected_version is not None or time.monotonic() > deadline:
                    raise VersionConflictError("the stream changed meanwhile; reload and retry") from None
                if not unit.cached:
                    time.sleep(random.uniform(0, 0.001 * 2 ** min(attempt, 6)))  # let the winner land, spread retries
            except PersistenceError as error:
                raise UnavailableError(f"the event log is unavailable: {type(error).__name__}") from None
        for hook in self.after_append:
            hook()
        main = decision.aggregates[0]
        return cmd.Appended(id=decision.public_id, version=main.version, seq=recordings[0].notification.id)

    def _decides_from_cache(self, context: cmd.Context) -> bool:
        """Whether a first attempt may decide on ``decisions`` (not with an expected version: a stale
        entry would be refused as a conflict the caller did not cause)."""
        return self.decisions.max_entries > 0 and context.expected_version is None

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:  # type: ignore[override]
        """The library's ``save`` (record, snapshot, notify) with two changes: aggregates and events are
        told apart by class (the library checks two runtime protocols per object, ~50 µs each), and
        the saved aggregates are kept in ``decisions`` for the next command."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                processing_event.events.append(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self.decisions.keep(processing_event.aggregates.values())
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots every ``snapshotting_intervals`` versions, of the aggregate just saved when it is at
        that version (the library reloads it from the store: a snapshot and up to 50 events)."""
        if self.snapshots is None:
            return
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate)) if aggregate is not None else None
            if aggregate is None or interval is None or event.originator_version % interval:
                continue
            if aggregate.version == event.originator_version:
                snapshot_class: Any = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
                self.snapshots.put([snapshot_class.take(aggregate)])
            else:  # saved further in the same transaction (a batch): the state at that version
                self.take_snapshot(event.originator_id, version=event.originator_version, projector_func=_fold)

    def handle_many(
        self, items: Iterable[tuple[cmd.Command, cmd.Context]], *, stop_at_error: bool = False,
        chunk: int = BATCH_CHUNK,
    ) -> list[cmd.Appended | LedgerError]:
        """Decides every command as ``handle`` would and saves them in few transactions.

        Commands are decided in order, each on the state the earlier ones left (``Unit.overlay``), by
        the same handlers, access checks and idempotency as ``handle``; the events of up to ``chunk``
        commands are saved in one transaction, in command order. A command that fails its checks is
        answered with its error and saves nothing; the others go on (with ``stop_at_error`` nothing
        after it is decided or saved, what came before is). A command's target may be a ``cmd.Ref``
        to an earlier command of the same call (an enrollment's new retiree). When the transaction
        loses a race with another writer (or two commands of it claim the same ID number or
        community), nothing of it was saved and its commands are handled again one by one.
        """
        self._check_writer()
        results: list[cmd.Appended | LedgerError] = []
        pending = iter(items)
        while batch := list(itertools.islice(pending, chunk)):
            start = len(results)
            stopped = self._handle_chunk(batch, results, stop_at_error)
            if self.on_handled:
                for (command, _), result in zip(batch, results[start:], strict=False):
                    self._observe(command, _outcome(result), None)
            if stopped:
                break
        return results

    def _handle_chunk(
        self, batch: list[tuple[cmd.Command, cmd.Context]], results: list[cmd.Appended | LedgerError],
        stop_at_error: bool,
    ) -> bool:
        """Decides and saves one transaction's commands, appending to ``results``; True when it stopped."""
        overlay: dict[UUID, Aggregate] = {}
        reads: dict[UUID, int] = {}
        events: list[Any] = []
        decided: list[Decided] = []
        stopped = False
        for original, context in batch:
            try:
                command = cmd.validate(_resolved(original, results))
                event_id = self._event_id(context)
                replay = self._replay(command, event_id, context) if _keyed(context) else None
                if replay is not None:
                    results.append(replay)
                    continue
                try:
                    unit, decision = _decided(HANDLERS[type(command)], command, Unit(
                        self, context, event_id, context.today or self._clock(), overlay,
                        cached=self._decides_from_cache(context)))
                except LedgerError:
                    if (replay := self._landed(command, event_id, context)) is None:
                        raise
                    results.append(replay)
                    continue
                for stream, version in unit.reads.items():
                    reads[stream] = min(version, reads.get(stream, version))
            except LedgerError as error:
                results.append(error)
                if stop_at_error:
                    stopped = True
                    break
                continue
            decided.append((len(results), original, context, decision, len(events)))
            main = decision.aggregates[0]  # provisional (seq 0) until saved: what a later Ref resolves to
            results.append(cmd.Appended(id=decision.public_id, version=main.version, seq=0))
            for aggregate in [*decision.aggregates, *self._idempotency_claim(command, context, event_id)]:
                events.extend(aggregate.collect_events())
                overlay[aggregate.id] = aggregate
        if not events:
            return stopped
        try:
            recordings = self.save(*events, *overlay.values(),
                                   event_ids=[str(event.event_id) for event in events], **_unchanged(reads))
        except IntegrityError:
            self.decisions.evict([*reads, *overlay])
            return self._handle_alone(decided, results, stop_at_error) or stopped
        except PersistenceError as error:
            unavailable = UnavailableError(f"the event log is unavailable: {type(error).__name__}")
            for index, *_ in decided:
                results[index] = unavailable
            return True
        for index, _, _, decision, first in decided:
            main = decision.aggregates[0]
            results[index] = cmd.Appended(id=decision.public_id, version=main.version,
                                          seq=recordings[first].notification.id)
        for hook in self.after_append:
            hook()
        return stopped

    def _handle_alone(
        self, decided: list[Decided],
        results: list[cmd.Appended | LedgerError], stop_at_error: bool,
    ) -> bool:
        """The chunk's decided commands handled again one by one, in order (their Refs resolved anew)."""
        for index, original, context, _, _ in decided:
            try:
                results[index] = self._decide_and_save(_resolved(original, results), context)
            except LedgerError as error:
                results[index] = error
                if stop_at_error:
                    del results[index + 1:]
                    return True
        return False

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

    def _landed(self, command: cmd.Command, event_id: UUID, context: cmd.Context) -> cmd.Appended | None:
        """For a keyed command its handler refused: the first answer, if that request's events reached
        the index meanwhile. A retry of a save whose outcome was unknown (a lost Kafka acknowledgement)
        can find nothing at its first look, then be refused by the very claims that save made (an ID
        number enrolled, a community registered) once another save has caught the writer's index up."""
        return self._replay(command, event_id, context) if _keyed(context) else None

    @staticmethod
    def _community_code(command: cmd.Command) -> str | None:
        """The code of the community stream a community command writes (its public id)."""
        if isinstance(command, cmd.RegisterCommunity):
            return command.code
        if isinstance(command, cmd.CommunityCommand | cmd.AllocateFunding):
            return command.community
        if isinstance(command, cmd.AgencyCommand):
            return command.area
        return None

    @staticmethod
    def _target_stream(command: cmd.Command) -> UUID | None:
        """The stream a command names (None for an enrollment, whose stream is new)."""
        if isinstance(command, cmd.Enroll):
            return None
        if isinstance(command, cmd.CommunityCommand):
            return community_uuid(command.code if isinstance(command, cmd.RegisterCommunity) else command.community)
        if isinstance(command, cmd.AllocateFunding):
            return community_uuid(command.community)
        if isinstance(command, cmd.AgencyCommand):
            return agency_uuid(command.area)
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
        covering = self._snapshot_covering(retiree_id, as_of)
        if covering is not None:  # every event up to its version took effect by then: fold only the rest
            retiree = cast(Retiree, covering.mutate(None))
            events = list(self.events.get(retiree_id, gt=retiree.version))
        else:
            events = list(self.events.get(retiree_id))
            first = events.pop(0) if events else None
            if not isinstance(first, Retiree.Enrolled):
                raise NotFoundError("no retiree with this id")
            if first.business_date > as_of:
                raise NotFoundError(f"the retiree was not enrolled as of {as_of.isoformat()}")
            retiree = cast(Retiree, first.mutate(None))
        for event in events:
            if cast(Retiree.Event, event).business_date <= as_of:
                event.apply(retiree)  # type: ignore[attr-defined]
                retiree.version = event.originator_version
        return retiree

    def _snapshot_covering(self, retiree_id: UUID, as_of: date) -> Any:  # an eventsourcing Snapshot
        """The latest snapshot of the retiree whose events all took effect on or before ``as_of`` (its
        binding to the log checked by ``CheckedSnapshots``), or None."""
        if self.snapshots is None:
            return None
        snapshot: Any
        for snapshot in self.snapshots.get(retiree_id, desc=True):
            latest = snapshot.state.get("_latest_business_date")
            if latest is not None and latest <= as_of:
                return snapshot
        return None

    def community(self, code: str, *, read_only: bool = False) -> Community:
        """The community of ``code``; ``read_only`` may hand out the cached object itself (no copy):
        the caller must not change it."""
        aggregate = self._get(community_uuid(code), None, read_only=read_only)
        if not isinstance(aggregate, Community):
            raise NotFoundError("no community with this code")
        return aggregate

    def agency(self, area: str, *, read_only: bool = False) -> Agency:
        """The agency of ``area`` (a city, or the province); ``read_only`` as for ``community``."""
        aggregate = self._get(agency_uuid(area), None, read_only=read_only)
        if not isinstance(aggregate, Agency):
            raise NotFoundError("no agency established for this area")
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
        self, stream_id: UUID, *, version: int | None = None, as_of: date | None = None,
        after_version: int | None = None, limit: int | None = None,
    ) -> list[HistoryEntry]:
        """A stream's events in order; up to a ``version``, or those in effect ``as_of`` a business date.
        Of those, the ones with a version above ``after_version``, at most ``limit`` (default: all).

        Decoded entries come from ``history_cache`` and the log is read only after what it holds
        (and only as far as the page needs). ``NotFoundError`` for an unknown stream or a version it
        has not reached.
        """
        until = None if version is None else max(version, 0)
        found = self._entries(stream_id, max(after_version or 0, 0), until, None if as_of is not None else limit)
        in_effect = (e for e in found if as_of is None or e.business_date is None or e.business_date <= as_of)
        entries = list(itertools.islice(in_effect, limit))
        if not entries and not self.history_cache.get(stream_id) and not self.stream_exists(stream_id):
            raise NotFoundError("no stream with this id")
        if version is not None and version > 0 and not self._reached(stream_id, version):
            raise NotFoundError(f"the stream has no version {version}")
        return entries

    def _entries(self, stream_id: UUID, after: int, until: int | None, batch: int | None) -> Iterator[HistoryEntry]:
        """The stream's entries with a version above ``after`` and up to ``until``: the cached ones, then
        the log's, read ``batch`` records at a time (all at once when None) and kept in the cache when
        they continue it. Versions are dense from 1, so the reads stop at ``until`` exactly."""
        cached = self.history_cache.get(stream_id)
        yield from cached[after:until]
        after = max(after, len(cached))
        while until is None or after < until:
            limit = min((n for n in (batch, None if until is None else until - after) if n is not None), default=None)
            records = self.log.select_stream(stream_id, gt=after, limit=limit)
            entries = [self.entry(record) for record in records]
            self.history_cache.extend(stream_id, entries)
            yield from entries
            if not records or limit is None or len(records) < limit:
                return
            after = records[-1].originator_version

    def _reached(self, stream_id: UUID, version: int) -> bool:
        return len(self.history_cache.get(stream_id)) >= version or self.log.record_at(stream_id, version) is not None

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

    def read_share(self, after: int, stop: int, limit: int, share: int, shares: int) -> list[LogRecord]:
        """Records with ``after < seq <= stop`` of the streams in ``share`` of ``shares``
        (``ledger.eventlog.base.stream_share``), at most ``limit``, in ``seq`` order (the embedded log only)."""
        select = getattr(self.log, "select_share", None)
        if select is None:
            raise InvalidInputError("only the embedded log is read by shares of its streams")
        return cast(list[LogRecord], select(after, stop, limit, share, shares))

    def iter_log(self, after: int = 0, batch: int = 1000) -> Iterator[LogRecord]:
        while True:
            records = self.read_log(after, batch)
            if not records:
                return
            yield from records
            after = records[-1].id

    def head(self) -> int:
        return self.log.max_notification_id() or 0


def _outcome(result: object) -> str:
    """``appended``, ``replayed``, or the refusal named after its error (``VersionConflictError``:
    ``version_conflict``)."""
    if isinstance(result, cmd.Appended):
        return "replayed" if result.replayed else "appended"
    if not isinstance(result, LedgerError):
        return "error"
    name = type(result).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
