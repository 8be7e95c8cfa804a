"""Pytest plugin: a real PostgreSQL server for the test session, a fresh database per test.

Load it with ``-p tests.postgres_fixtures``. ``LEDGER_TEST_POSTGRES=DSN`` points the tests at a
server that is already running (the DSN's user must be allowed to create databases); otherwise a
throwaway cluster (``devtools.postgres.Cluster``) is started once for the session and removed at
its end. ``postgres_dsn`` gives each test a database of its own (``CREATE DATABASE`` from
``template0``, dropped afterwards), so tests never see each other's rows. Nothing skips: a server
that cannot be started or reached fails the tests that need it, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from devtools.postgres import Cluster, PostgresError, server_binaries


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs a real PostgreSQL server (postgres_dsn)")


def database_url(dsn: str, dbname: str) -> str:
    """``dsn`` (a URL or ``key=value`` string) as a ``postgresql://`` URL naming database ``dbname``."""
    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items() if value is not None}
    params["dbname"] = dbname
    user, password = params.pop("user", ""), params.pop("password", None)
    host, port = params.pop("host", ""), params.pop("port", "")
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    netloc = (f"{auth}@" if auth else "") + (f"[{host}]" if ":" in host else quote(host, safe="")) + (
        f":{port}" if port else "")
    query = urlencode({k: v for k, v in params.items() if k != "dbname"})
    return f"postgresql://{netloc}/{quote(params['dbname'], safe='')}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The DSN of a server that lives for the whole session (its maintenance database)."""
    external = os.environ.get("LEDGER_TEST_POSTGRES")
    if external:
        yield external
        return
    if server_binaries() is None:
        pytest.fail("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: run "
                    "`python -m devtools.postgres install` or set LEDGER_TEST_POSTGRES=DSN", pytrace=False)
    cluster = Cluster()
    try:
        dsn = cluster.start()
    except (PostgresError, OSError) as error:
        cluster.stop()
        pytest.fail(f"a throwaway PostgreSQL cluster could not be started: {error}", pytrace=False)
    try:
        yield dsn
    finally:
        cluster.stop()


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A ``postgresql://`` URL of a fresh, empty database for this test (dropped after it)."""
    with fresh_database(postgres_server) as url:
        yield url


@contextmanager
def fresh_database(postgres_server: str) -> Iterator[str]:
    """A ``postgresql://`` URL of a fresh, empty database on the server, dropped at the end."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    try:
        with psycopg.connect(postgres_server, autocommit=True, connect_timeout=10) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)))
    except psycopg.Error as error:
        pytest.fail(f"cannot create a test database on the PostgreSQL server: {error}", pytrace=False)
    try:
        yield database_url(postgres_server, name)
    finally:
        try:
            with psycopg.connect(postgres_server, autocommit=True, connect_timeout=10) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error:
            pass  # a server gone at the end of a test: nothing left to clean
