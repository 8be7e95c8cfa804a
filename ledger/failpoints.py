"""Failpoints: named places where a process stops while a file says so, for the fault tests.

With ``LEDGER_FAILPOINTS=DIR`` in the environment (never set in production: then every call is a
no-op that reads one variable), ``reached(NAME)`` checks for the file ``DIR/NAME``; while it exists
the calling thread runs ``before`` once, writes ``DIR/NAME.reached`` and waits until the file is
removed. A test can so hold the Kafka writer between sending a transaction's records and committing
them, then ``kill -9`` it there (a writer killed mid-transaction) or let a newer writer take over
before it goes on (a zombie writer). Places: ``before-commit`` (``ledger.eventlog.kafka.writer``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

VARIABLE = "LEDGER_FAILPOINTS"


def reached(name: str, before: Callable[[], object] | None = None) -> None:
    """Holds the calling thread at failpoint ``name`` while ``$LEDGER_FAILPOINTS/name`` exists."""
    folder = os.environ.get(VARIABLE)
    if not folder:
        return
    trigger = Path(folder) / name
    if not trigger.exists():
        return
    if before is not None:
        before()
    (Path(folder) / f"{name}.reached").touch()
    while trigger.exists():
        time.sleep(0.02)
