"""The read side off the write path: a thread that follows the log and keeps the views current.

Writes never run projections. After an append the ledger calls :meth:`Follower.notify`, which
only wakes this thread; the thread gathers the appends of the next ``gather_s`` seconds, then catches
the views up in batches (``ProjectionRunner``) and runs its duties (e.g. signing a checkpoint every N
events). Gathering makes one view transaction serve several appends instead of one each (a cycle
per append cost about 1.4 ms of CPU under the request threads' GIL; per event, a cycle of 7 appends
costs 0.35 ms, one of 30 appends 0.2 ms, most of the difference the commit's pages). A read waiting
in :meth:`wait_for` ends the gathering at once, so read-your-writes is not delayed by it: the default
``gather_s`` (0.1 s) only bounds how stale a read that does not wait may be. Without a notification
it looks at the log every ``poll_s`` seconds, so appends by other processes (a Kafka writer
elsewhere) are followed too.

Read-your-writes: :meth:`wait_for` blocks (bounded) until a view has applied the log up to a
``seq``, e.g. the head of the log as it stood when a read arrived, or the ``seq`` a client was
given by its POST. It returns the position reached, so a caller that timed out can state the lag
instead of serving stale rows silently.

Failures are never swallowed: a view that cannot apply an event stops at it (the runner keeps
its position) and its ``ProjectionError`` is kept in :meth:`status`, logged once, and retried
every ``retry_s`` seconds; the other views go on. A failing duty is kept and reported the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ledger.errors import LedgerError, ProjectionError
from projections.runner import ProjectionRunner

logger = logging.getLogger("projections.follower")


@dataclass(frozen=True)
class FollowerStatus:
    """``positions``: the seq each view has applied up to; ``errors``: the last error of each failing
    view or duty (absent when healthy); ``running``: whether the thread is alive."""

    running: bool
    positions: dict[str, int]
    errors: dict[str, str]


def _describe(error: BaseException) -> str:
    return error.detail if isinstance(error, LedgerError) else type(error).__name__


class Follower:
    """Follows the log from its own thread; see the module docstring."""

    def __init__(
        self,
        runner: ProjectionRunner,
        head: Callable[[], int],
        *,
        duties: Mapping[str, Callable[[], object]] | None = None,
        poll_s: float = 0.5,
        retry_s: float = 5.0,
        gather_s: float = 0.1,
    ) -> None:
        self._runner = runner
        self._head = head
        self._duties = dict(duties or {})
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._changed = threading.Condition()
        self._gather_s = gather_s
        self._woken = False
        self._urgent = False  # a reader waits in wait_for: no gathering
        self._appends = 0  # notifications so far
        self._stopping = False
        self._reached = runner.positions()
        self._done: dict[str, int] = {}  # per duty: the log head its last successful run covered
        self._errors: dict[str, str] = {}
        self._failed_at: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="projections-follower", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops after the batch in hand (its rows and positions are stored together)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify(self) -> None:
        """Wakes the thread: something was appended. Cheap; never blocks on the views."""
        with self._changed:
            self._woken = True
            self._appends += 1
            self._changed.notify_all()

    def wait_for(self, view: str, seq: int, timeout: float) -> int:
        """Waits up to ``timeout`` s until ``view`` has applied the log up to ``seq`` (or the duty of that
        name has run over it); returns its position."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._woken = self._urgent = True
            self._changed.notify_all()
            while self._position(view) < seq and view not in self._errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self._position(view)

    def _position(self, name: str) -> int:
        """A view's applied seq, or the log head a duty's last successful run covered."""
        return self._reached[name] if name in self._reached else self._done.get(name, 0)

    def status(self) -> FollowerStatus:
        with self._changed:
            return FollowerStatus(self._thread is not None and self._thread.is_alive(), dict(self._reached),
                                  dict(self._errors))

    def run_once(self) -> None:
        """One cycle: catch up every view that is not waiting to be retried, then run the duties."""
        now = time.monotonic()
        names = [p.name for p in self._runner.projections
                 if now - self._failed_at.get(p.name, -self._retry_s) >= self._retry_s]
        head = self._head()
        while names:
            try:
                self._runner.catch_up(names)
            except ProjectionError as error:  # that view stops at its event; the others go on
                failing = error.view if error.view in names else names[0]
                self._failed(failing, error)
                names.remove(failing)
                continue
            except Exception as error:  # the store or the log is unavailable: keep the positions, say why
                for name in names:
                    self._failed(name, error)
                break
            for name in names:
                self._set(name, head, healthy=True)
            break
        self._record_positions()
        for duty, work in self._duties.items():
            self._attempt(duty, work, head)

    def _record_positions(self) -> None:
        try:
            found = self._runner.positions()
        except Exception:  # reported by the next catch-up
            return
        for name, position in found.items():
            self._set(name, position)

    def _attempt(self, duty: str, work: Callable[[], object], head: int) -> None:
        try:
            work()
        except Exception as error:
            self._failed(duty, error)
        else:
            with self._changed:
                self._errors.pop(duty, None)
                self._done[duty] = max(head, self._done.get(duty, 0))
                self._changed.notify_all()

    def _failed(self, name: str, error: BaseException) -> None:
        detail = _describe(error)
        with self._changed:
            if self._errors.get(name) != detail:
                logger.error("%s stopped: %s", name, detail)
            self._errors[name] = detail
            self._failed_at[name] = time.monotonic()
            self._changed.notify_all()

    def _set(self, name: str, position: int, healthy: bool = False) -> None:
        with self._changed:
            self._reached[name] = max(position, self._reached.get(name, 0))
            if healthy:
                self._errors.pop(name, None)
                self._failed_at.pop(name, None)
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._woken and not self._stopping:
                    self._changed.wait(self._poll_s)
                gathering = self._woken and not self._urgent and not self._stopping and self._gather_s > 0
            if gathering:
                self._gather()
            with self._changed:
                if self._stopping:
                    return
                self._woken = self._urgent = False
            self.run_once()

    def _run_duties(self) -> None:
        if not self._duties:
            return
        head = self._head()
        for duty, work in self._duties.items():
            self._attempt(duty, work, head)

    def _gather(self) -> None:
        """Waits up to ``gather_s`` for more appends, unless a reader or ``stop`` asks for the views now.
        The duties run at each append meanwhile (one ``head()`` query when nothing is due), so a
        checkpoint is signed at the head that crossed its multiple, as without gathering."""
        until = time.monotonic() + self._gather_s
        seen = -1
        while True:
            with self._changed:
                while seen == self._appends and not self._urgent and not self._stopping:
                    left = until - time.monotonic()
                    if left <= 0:
                        return
                    self._changed.wait(left)
                if self._urgent or self._stopping:
                    return
                seen = self._appends
            self._run_duties()
