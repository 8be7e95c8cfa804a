"""Kafka down: writes fail fast with UnavailableError, nothing unacknowledged is claimed, and the
ledger recovers by itself when the broker returns. Runs its own broker so it can stop it."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from devtools.kafka_broker import KafkaBroker
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import UnavailableError
from ledger.integrity.chain import first_break

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
        assert app.head() == 2  # nothing acknowledged, nothing in the index (seq 2: the first key's claim)

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
        # each keyed save is the community and its idempotency claim: two records
        assert recovered.seq in (3, 5) and second.seq in (3, 5) and recovered.seq != second.seq
        assert app.head() == 6
        assert first_break(app.iter_log()) is None
    finally:
        app.close()
        broker.stop()


def test_the_api_answers_503_problem_json_while_kafka_is_down(tmp_path: Path) -> None:
    import httpx

    from api.main import create_app
    from tests.e2e.conftest import serving

    broker = KafkaBroker(tmp_path / "broker").start()
    env = {"LEDGER_LOG": f"kafka://{broker.bootstrap}", "LEDGER_KAFKA_TOPIC": "outage-http.events",
           "LEDGER_NAME": "outage-http", "KAFKA_WRITE_TIMEOUT_S": "4", "KAFKA_CLIENT_TIMEOUT_MS": "3000"}
    body = {"code": "CD-WL-001", "name": "C", "city": "Changde", "district": "Wuling", "street": "S",
            "kind": "rural_town"}
    try:
        with serving(create_app(dev_mode=True, host="127.0.0.1"), tmp_path / "home", env) as server, \
                httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/v1/communities", json=body).status_code == 201
            broker.stop()
            started = time.monotonic()
            response = client.post("/v1/communities", json={**body, "code": "CD-WL-002"})
            assert time.monotonic() - started < 10
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/unavailable")
            assert client.get("/health").json()["head"] == 1
    finally:
        broker.stop()
