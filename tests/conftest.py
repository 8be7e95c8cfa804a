"""Shared fixtures: a ledger on a fresh embedded SQLite log per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.config import Settings

TODAY = date(2026, 6, 30)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    app = Ledger(settings, clock=lambda: TODAY)
    yield app
    app.close()
