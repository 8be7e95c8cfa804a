"""Pytest plugin: a real Kafka broker for the test session.

Load it with ``-p tests.kafka_fixtures`` or ``pytest_plugins = ["tests.kafka_fixtures"]``.
``LEDGER_TEST_KAFKA=host:port`` points the tests at a broker that is already running; otherwise one
combined KRaft node is started on free ports for the session. The fixture never skips: a broker
that cannot start fails the tests that need it, with the broker's own error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.kafka_broker import KafkaBroker


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kafka: needs a real Kafka broker (kafka_bootstrap)")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address ("127.0.0.1:PORT") of a broker that lives for the whole session."""
    external = os.environ.get("LEDGER_TEST_KAFKA")
    if external:
        yield external
        return
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
