"""Backend parametrization: the same contract, application and HTTP suites run on every event log.

``backend`` yields ``Settings`` for a fresh ledger on SQLite or on a real Kafka broker (a unique
topic per test, so tests stay independent on one broker).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ledger.config import Settings

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
]


def settings_for(backend: str, home: Path, request: pytest.FixtureRequest) -> Settings:
    if backend == "sqlite":
        return Settings(home=home)
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    name = f"t{uuid.uuid4().hex[:12]}"
    return Settings(home=home, log_url=f"kafka://{bootstrap}", kafka_topic=f"{name}.events", ledger_name=name)


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_for(request.param, tmp_path / "home", request)
