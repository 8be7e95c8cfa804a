"""What every ``ledger`` command shares: the app, its error handling, progress bars, argument parsing.

Commands build what they use with ``runtime.bootstrap.opened`` (the one composition root).

Nothing is built at import time. Every ``LedgerError`` becomes one red line on stderr and exit
code 1 (usage errors exit 2); no stack trace unless ``LEDGER_DEBUG=1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from typer.core import TyperGroup

from ledger.domain.values import community_uuid
from ledger.errors import LedgerError
from ledger.exchange.ndjson import ImportLineError

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _LedgerGroup(TyperGroup):
    """Turns errors into one red line on stderr: exit 1 (``LEDGER_DEBUG=1`` keeps the traceback)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as error:
            fail(error.detail if isinstance(error, ImportLineError) else f"error: {error.detail}")
        except OSError as error:
            fail(f"error: {error.strerror or type(error).__name__}{f': {error.filename}' if error.filename else ''}")
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors (exit 2), exits
            raise
        except Exception as error:
            if os.environ.get("LEDGER_DEBUG"):
                raise
            fail(f"unexpected {type(error).__name__} (set LEDGER_DEBUG=1 to see the traceback)")


app = typer.Typer(cls=_LedgerGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Social Care Ledger: event-sourced service records for enterprise retirees.")
projections_app = typer.Typer(no_args_is_help=True, help="Keep the read views (projections) current.")
kafka_app = typer.Typer(no_args_is_help=True, help="A development Kafka broker in LEDGER_HOME/kafka.")
app.add_typer(projections_app, name="projections")
app.add_typer(kafka_app, name="kafka")
keys_app = typer.Typer(no_args_is_help=True, help="The ledger's Ed25519 signing key for checkpoints.")
tokens_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the HTTP API (only hashes are stored).")
index_app = typer.Typer(no_args_is_help=True, help="The local index of the Kafka event log.")
app.add_typer(keys_app, name="keys")
app.add_typer(tokens_app, name="tokens")
app.add_typer(index_app, name="index")


# ---- helpers --------------------------------------------------------------------------------------


def err() -> Console:
    return Console(stderr=True, highlight=False)


def out() -> Console:
    return Console(highlight=False)


def fail(message: str) -> None:
    err().print(Text(" ".join(message.split()), style="red"), soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields the ``progress(done, total)`` callback."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err(), transient=False) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


def stream_id(text: str) -> UUID:
    """A retiree id (UUID) or a community code, as the stream id."""
    try:
        return UUID(text)
    except ValueError:
        return community_uuid(text)


def day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        if not DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected a date YYYY-MM-DD", param_hint="--as-of") from None
