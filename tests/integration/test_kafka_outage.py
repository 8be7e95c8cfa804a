"""Kafka down: writes fail fast with UnavailableError, nothing unacknowledged is claimed, and the
ledger recovers by itself when the broker returns. Runs its own broker so it can stop it."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.devtools.kafka_broker import KafkaBroker
from ledger.errors import UnavailableError
from ledger.integrity import first_break

pytestmark = pytest.mark.kafka


def register(app: Ledger, code: str) -> c.Appended:
    return app.handle(
        c.RegisterCommunity(code=code, name="C", city="Changde", district="Wuling", street="S", kind="rural_town"),
        c.Context(idempotency_key=code),
    )


def test_writes_fail_within_bounded_time_while_kafka_is_down_and_recover_after(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "broker").start()
    settings = Settings(home=tmp_path / "home", log_url=f"kafka://{broker.bootstrap}", kafka_topic="outage.events",
                        ledger_name="outage")
    app = Ledger(settings, env={"KAFKA_WRITE_TIMEOUT_S": "4", "KAFKA_CLIENT_TIMEOUT_MS": "3000"},
                 clock=lambda: date(2026, 6, 30))
    try:
        assert register(app, "CD-WL-001").seq == 1
        broker.stop()
        started = time.monotonic()
        with pytest.raises(UnavailableError):
            register(app, "CD-WL-002")
        assert time.monotonic() - started < 10
        assert app.head() == 1  # nothing acknowledged, nothing in the index

        broker.start()
        deadline = time.monotonic() + 90
        while True:
            try:
                recovered = register(app, "CD-WL-003")
                break
            except UnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        second = register(app, "CD-WL-002")  # the retried request: recorded once, whatever happened before
        assert recovered.seq in (2, 3) and second.seq in (2, 3) and recovered.seq != second.seq
        assert app.head() == 3
        assert first_break(app.iter_log()) is None
    finally:
        app.close()
        broker.stop()
