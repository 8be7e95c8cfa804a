"""Real uvicorn servers running ``create_app()`` in a background thread, on free 127.0.0.1 ports.

The app reads its settings from the environment at start-up, like ``ledger serve``: each server
gets ``LEDGER_HOME`` pointing at a fresh temporary folder for its lifetime. The development-mode
servers (no tokens, every write recorded by ``dev``) shared by the HTTP tests, ``base_url`` and
``http``, are in tests/e2e/api/conftest.py; access control is tested against servers started with
:func:`serving` and tokens from :func:`make_tokens`. Tests outside this folder import
:func:`serving` from here.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from ledger.config import Settings
from ledger.tokens import TokenStore
from runtime.bootstrap import Services


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """A running server: its base URL and the app (for the ledger's head without an HTTP call)."""

    url: str
    app: FastAPI

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def head(self) -> int:
        return self.services.ledger.head()


@contextmanager
def serving(app: FastAPI, home: Path, extra_env: dict[str, str] | None = None, http: str = "auto") -> Iterator[Server]:
    """Runs ``app`` with ``LEDGER_HOME=home`` (and ``extra_env``) until the block ends (lifespan shutdown included);
    ``http`` is uvicorn's protocol (``runtime.serving.HTTP_PROTOCOL`` answers unparsable requests with a problem)."""
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("LEDGER_")]:
            env.delenv(name)
        env.setenv("LEDGER_HOME", str(home))
        for name, value in (extra_env or {}).items():
            env.setenv(name, value)
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=http)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the API server did not start (see the log above)")
            if time.monotonic() > deadline:
                server.should_exit = True
                pytest.fail("the API server did not start within 30 s")
            time.sleep(0.05)
        try:
            yield Server(f"http://127.0.0.1:{port}", app)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            assert not thread.is_alive(), "the API server did not stop"


# The callers of the access tests: name -> (role, scope); "revoked" is an agency token revoked at once.
TOKEN_SPECS: dict[str, tuple[str, str | None]] = {
    "agency_cs": ("agency", "city:Changsha"),
    "agency_zz": ("agency", "city:Zhuzhou"),
    "community_own": ("community", "community:CS-YL-001"),
    "community_other": ("community", "community:CS-FR-002"),
    "auditor": ("auditor", None),
    "viewer": ("viewer", None),
    "revoked": ("agency", "city:Changsha"),
}


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens by caller name, and the principal name each one records on events."""

    secrets: dict[str, str]
    principals: dict[str, str]

    def headers(self, caller: str) -> dict[str, str]:
        """Authorization headers for ``caller``; ``none`` sends no token, ``garbage`` an invalid one."""
        if caller == "none":
            return {}
        if caller == "garbage":
            return {"Authorization": "Bearer scl_0123456789abcdef_" + "x" * 43}
        return {"Authorization": f"Bearer {self.secrets[caller]}"}


def make_tokens(home: Path) -> Tokens:
    """Creates the TOKEN_SPECS tokens in ``home``'s token store (as ``ledger tokens create`` would)."""
    store = TokenStore.of(Settings(home=home))
    secrets: dict[str, str] = {}
    principals: dict[str, str] = {}
    for name, (role, scope) in TOKEN_SPECS.items():
        secrets[name], info = store.create(role, scope, label=f"e2e {name}")
        principals[name] = info.principal.name
    assert store.revoke(store.authenticate(secrets["revoked"]).token_id)
    return Tokens(secrets, principals)
