"""Helpers for running the ``eventsourcing`` conformance cases against our recorders."""

from __future__ import annotations

import threading


def join_test_threads(before: set[threading.Thread], timeout: float = 10.0) -> None:
    """Waits for threads a library case started and did not join (its readers stop on a flag but are
    not joined), so closing the database cannot pull a connection from under a running query."""
    for thread in set(threading.enumerate()) - before:
        if thread is not threading.current_thread() and not thread.name.startswith("kafka"):
            thread.join(timeout)
