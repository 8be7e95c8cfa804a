"""The one composition root: ``Settings`` in, the running services out.

The HTTP app (``api.main``), the CLI (``cli``) and the benchmarks (``bench``) all build what they
use here, so they are wired the same way: the ledger on its event log, the view store (SQLite, or
PostgreSQL with ``LEDGER_VIEWS=postgresql://…``), the projection runner, the checkpoint store with
its checkpointer (when a signing key exists: ``ledger keys init``), and the token store.

``follow=True`` (the API) starts the read side in a thread of its own (``projections.follower``):
appends only wake it, so a POST never waits for the views or the checkpointer, and a failing view
is reported (``/health``, ``projections status``) instead of failing or slowing writes. Without it
(the CLI's one-shot commands) :meth:`Services.settle` catches the views up and signs the due
checkpoint when the command's work is done. Nothing is built at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import NotFoundError
from ledger.integrity.checkpoints import Checkpointer, CheckpointStore, Signer
from ledger.tokens import TokenStore
from projections.base import Projection
from projections.follower import Follower, FollowerStatus
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from projections.store.sqlite import SQLiteViewStore

READ_WAIT_S = 2.0
POLL_S = 0.02
"""How often a read waits on the stored positions when workers, not this process, keep the views."""
"""How long a projection read waits for the views to reach the log head it saw (read-your-writes)."""


@dataclass
class Services:
    """What one running process uses; close it (or use :func:`opened`) when done."""

    settings: Settings
    ledger: Ledger
    store: ViewStore
    runner: ProjectionRunner
    checkpoints: CheckpointStore
    tokens: TokenStore
    checkpointer: Checkpointer | None = None
    follower: Follower | None = None  # set by bootstrap; running only with follow=True
    read_wait_s: float = READ_WAIT_S
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def settle(self) -> int:
        """Catches every view up and signs the due checkpoint now; returns the records applied."""
        applied = self.runner.catch_up()
        if self.checkpointer is not None:
            self.checkpointer.maybe_checkpoint()
        return applied

    def view_position(self, view: str, seq: int) -> int:
        """The seq ``view`` (or the ``checkpoints`` duty) has covered, once it reached ``seq`` or
        ``read_wait_s`` passed."""
        if self.follower is not None and self.follower.status().running:
            return self.follower.wait_for(view, seq, self.read_wait_s)
        position = self.runner.positions().get(view, 0)
        if self.settings.follow or position >= seq or view not in self.runner.positions():
            return position  # one-shot commands answer at once; workers keep the views of an API (LEDGER_FOLLOW=0)
        deadline = time.monotonic() + self.read_wait_s
        while position < seq and time.monotonic() < deadline:
            time.sleep(POLL_S)
            position = self.runner.positions().get(view, 0)
        return position

    def read_side(self) -> FollowerStatus:
        """Each view's position and the errors of failing views and duties (the checkpointer).

        Without a running follower (one-shot CLI commands) one follower cycle runs here first, so
        ``ledger projections status`` names a failing view with its error too.
        """
        assert self.follower is not None
        if not self.follower.status().running:
            self.follower.run_once()
        return self.follower.status()

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()


def signer_for(settings: Settings) -> Signer | None:
    """The ledger's signing key, or None before ``ledger keys init`` (then no checkpoints are signed)."""
    try:
        return Signer.load(settings)
    except NotFoundError:
        return None


def view_store_for(settings: Settings) -> ViewStore:
    """The view store ``settings.views_url`` names: ``HOME/views.db`` (SQLite) or a PostgreSQL database."""
    if settings.views_backend == "postgresql":
        from projections.store.postgres import PostgresViewStore  # psycopg only loaded when asked for

        return PostgresViewStore(settings.views_url)
    return SQLiteViewStore(settings.views_path)


def bootstrap(
    settings: Settings,
    *,
    follow: bool = False,
    checkpoint_every: int | None = None,
    projections: Sequence[Projection] | None = None,
    clock: Callable[[], date] | None = None,
    poll_s: float = 0.5,
    partitions: Sequence[int] | None = None,
) -> Services:
    """Builds the services of one process from ``settings`` (see the module docstring).

    ``checkpoint_every`` overrides ``settings.checkpoint_every``; ``projections`` the registered
    views; ``clock`` the ledger's "today" (tests); ``partitions`` makes the runner the owner of those
    partitions of the topic (a projection worker's ``--partitions``, ``projections.shards``).
    """
    stack = ExitStack()
    try:
        ledger = Ledger(settings, clock=clock) if clock is not None else Ledger(settings)
        stack.callback(ledger.close)
        store = view_store_for(settings)
        stack.callback(store.close)
        checkpoints = CheckpointStore.for_settings(settings)
        stack.callback(checkpoints.close)
        runner = ProjectionRunner(ledger, store, projections, partitions=partitions)
        stack.callback(runner.close)
        signer = signer_for(settings)
        every = checkpoint_every or settings.checkpoint_every
        checkpointer = Checkpointer(ledger, checkpoints, signer, every=every) if signer is not None else None
        services = Services(settings, ledger, store, runner, checkpoints, TokenStore.of(settings), checkpointer)
        duties = {"checkpoints": checkpointer.maybe_checkpoint} if checkpointer is not None else {}
        services.follower = Follower(runner, ledger.head, duties=duties, poll_s=poll_s)
        if follow:
            ledger.after_append.append(services.follower.notify)
            services.follower.start()
            stack.callback(services.follower.stop)
    except BaseException:
        stack.close()
        raise
    services._closers.append(stack.close)
    return services


@contextmanager
def opened(settings: Settings, **options: object) -> Iterator[Services]:
    """:func:`bootstrap` as a context manager: the services, closed at the end."""
    services = bootstrap(settings, **options)  # type: ignore[arg-type]
    try:
        yield services
    finally:
        services.close()
