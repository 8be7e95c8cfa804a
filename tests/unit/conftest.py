"""Unit tests touch no disk: a test here that asks for a temporary folder or a ledger fails.

Tests that need files, a ledger, a server or a broker belong in ``tests/integration`` or
``tests/e2e``; projection logic is tested there on the in-memory view store.
"""

from __future__ import annotations

import pytest

ON_DISK = frozenset({"tmp_path", "tmp_path_factory", "tmpdir", "settings", "ledger", "backend_settings"})


@pytest.fixture(autouse=True)
def _no_disk(request: pytest.FixtureRequest) -> None:
    used = ON_DISK & set(request.fixturenames)
    if used:
        pytest.fail(f"a unit test may not touch the disk (it asks for {sorted(used)}): move it to tests/integration")
