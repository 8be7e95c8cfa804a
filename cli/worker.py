"""``ledger projections run``: a projection worker, the long-running process that keeps views current.

A worker follows the log (the embedded SQLite log, or the Kafka topic read with ``read_committed``)
and applies it to the views it runs: all of them, or those named by ``--views``. Several workers
share the work in either of two ways:

* ``--partitions 0,1`` (a Kafka log): each worker owns some of the topic's partitions and folds only
  their records into every view, storing the rows with those partitions' positions in one
  transaction. Rows that sum across partitions get one part per partition, merged on read, so
  every view stays exact (``projections.shards``). One owner per partition: give each partition
  to one worker; a partition moved to another worker resumes from its stored position.
* ``--views a,b``: each view has one owner and is folded in the log's one ``seq`` order.

Two workers that do run the same view and partition never both apply an event: the view store's
positions are a compare-and-set (``projections.store``), and the loser starts again from the
stored positions.

A view store or log that is unavailable (PostgreSQL restarting, brokers away) is retried with a
growing pause (one line on stderr each time, at most ``MAX_PAUSE_S`` apart); a view that cannot
apply an event stops the worker with exit 1 and says which (never skipped). One worker signs the due
checkpoints (``--checkpoints``, the default when it runs every view); it needs the signing key. SIGTERM or Ctrl-C stop
it between batches; a worker killed at any moment resumes from the positions stored with the rows.
After each round it tells the view store it runs its views (``--name``, default HOST:PID), which
``ledger projections status`` shows with each view's lag per partition.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Annotated

import typer

from cli.base import err, fail, progress, projections_app
from ledger.config import Settings
from ledger.errors import LedgerError, ProjectionError
from projections import registry
from runtime.bootstrap import Services, opened

MAX_PAUSE_S = 10.0


def chosen_views(views: str | None) -> list[str] | None:
    """The view names of ``--views`` (checked against the registered projections), or None for all."""
    if views is None:
        return None
    names = [name.strip() for name in views.split(",") if name.strip()]
    if not names:
        raise typer.BadParameter("name at least one view", param_hint="--views")
    return [registry.by_name(name).name for name in dict.fromkeys(names)]


def owned_partitions(partitions: str | None) -> list[int] | None:
    """The partition numbers of ``--partitions`` (``0,1``, ``0-2``), or None for the whole log."""
    if partitions is None:
        return None
    found: set[int] = set()
    try:
        for part in (p.strip() for p in partitions.split(",") if p.strip()):
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            if low < 0 or high < low:
                raise ValueError(part)
            found.update(range(low, high + 1))
    except ValueError:
        raise typer.BadParameter(f"{partitions!r}: give partition numbers such as 0,1 or 0-2",
                                 param_hint="--partitions") from None
    if not found:
        raise typer.BadParameter("name at least one partition", param_hint="--partitions")
    return sorted(found)


@projections_app.command("run")
def projections_run(
    log: Annotated[str | None, typer.Option("--log", help="Event log: sqlite or kafka://HOST:PORT.")] = None,
    views: Annotated[str | None, typer.Option(
        "--views", help="Only these views, comma-separated (workers split the views; default: all).")] = None,
    checkpoints: Annotated[bool | None, typer.Option(
        "--checkpoints/--no-checkpoints",
        help="Sign the due checkpoints after each round (default: when running every view of the whole log).")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="This worker's name in `ledger projections status` (default: HOST:PID).")] = None,
    partitions: Annotated[str | None, typer.Option(
        "--partitions", help="Own these partitions of the topic, e.g. 0,1 or 0-2 (workers split the "
                             "partitions; default: the whole log).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Catch up and exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between polls.")] = 1.0,
) -> None:
    """Follow the log and keep the views current (Ctrl-C or SIGTERM stops between batches)."""
    settings = Settings.from_env(log_url=log)
    names = chosen_views(views)
    owned = owned_partitions(partitions)
    signs = names is None and owned is None if checkpoints is None else checkpoints
    worker = name or f"{socket.gethostname()}:{os.getpid()}"
    label = "all views" if names is None else ", ".join(names)
    if owned is not None:
        label += f" (partitions {', '.join(map(str, owned))})"
        worker += f" [partitions {','.join(map(str, owned))}]"  # who owns which partition, in the status
    signal.signal(signal.SIGTERM, _interrupt)  # a worker is stopped with SIGTERM: stop between batches
    try:
        with opened(settings, partitions=owned) as services:
            with progress(f"catching up {label}") as tick:
                applied = _round(services, names, signs, worker, tick)
            err().print(f"{label} at seq {_at(services, names)} ({applied} records applied)", soft_wrap=True)
            pause = interval
            while not once:
                time.sleep(pause)
                try:  # every store read of the round, its report's included, is retried when unavailable
                    applied = _round(services, names, signs, worker)
                    if applied:
                        err().print(f"applied {applied} records to {label}; at seq {_at(services, names)}",
                                    soft_wrap=True)
                except ProjectionError:
                    raise
                except LedgerError as error:  # unavailable: the store or the log comes back, so retry
                    pause = min(pause * 2, MAX_PAUSE_S)
                    err().print(f"{error.detail}; retrying in {pause:g} s", soft_wrap=True)
                    continue
                pause = interval
    except ProjectionError as error:
        fail(error.detail)
    except KeyboardInterrupt:
        err().print("stopped")


def _round(services: Services, names: list[str] | None, signs: bool, worker: str, tick: object = None) -> int:
    applied = services.runner.catch_up(names, progress=tick)  # type: ignore[arg-type]
    views = names if names is not None else [p.name for p in services.runner.projections]
    services.store.heartbeat(views, worker, time.time())  # `ledger projections status` shows who runs what
    if signs and services.checkpointer is not None:
        services.checkpointer.maybe_checkpoint()  # one worker signs the due checkpoints (with the signing key)
    return applied


def _at(services: Services, names: list[str] | None) -> int:
    """The seq every view of this worker has applied the log up to."""
    positions = services.runner.positions()
    return min((at for name, at in positions.items() if names is None or name in names), default=0)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
