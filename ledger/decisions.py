"""The streams as this process last saved or loaded them, to decide the next command without a read.

A command's first attempt decides on these (``Unit`` with ``cached``): the retiree it writes, and the
community whose staff table answers "was this staff member active on that day" (a service) or which
city a community is in (a transfer). An entry can be stale only when another process appended to
its stream since; the write transaction catches that before anything is stored:

* a stream the command writes must not hold the version it writes (the log's optimistic-concurrency
  check, ``IntegrityError``);
* a stream it only read must still be at the version it read (``insert_events(unchanged=...)``, checked
  in the same ``BEGIN IMMEDIATE`` transaction, so no writer of the file can slip in between).

Either refusal evicts what the attempt used, and the command is decided again on fresh loads (the
aggregate cache's fast-forward), so a decision is never saved on a state the log has moved past.
That is stricter than a read before the save (which another writer could outdate before the commit).

Entries are never changed once kept (a command decides on a copy), so threads read them without a
lock; a newer version replaces an older one, never the reverse. LRU, at most ``max_entries``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.retiree import Retiree

KEPT = (Retiree, Community, Agency)
"""The aggregates commands decide on (identity and idempotency claims are only ever created)."""


class DecisionCache:
    """Aggregates by stream id, each as stored at its version; see the module docstring."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stream_id: UUID) -> Aggregate | None:
        """The kept aggregate (not to be changed: copy it to decide on it), or None."""
        with self._lock:
            found = self._entries.get(stream_id)
            if found is not None:
                self._entries.move_to_end(stream_id)
            return found

    def keep(self, aggregates: Iterable[object]) -> None:
        """Keeps each aggregate as it is now, unless a later version of its stream is held. The caller
        hands them over: nothing may change them afterwards."""
        if not self.max_entries:
            return
        with self._lock:
            for aggregate in aggregates:
                if not isinstance(aggregate, KEPT):
                    continue
                held = self._entries.get(aggregate.id)
                if held is None or held.version <= aggregate.version:
                    self._entries[aggregate.id] = aggregate
                    self._entries.move_to_end(aggregate.id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def evict(self, stream_ids: Iterable[UUID]) -> None:
        with self._lock:
            for stream_id in stream_ids:
                self._entries.pop(stream_id, None)
