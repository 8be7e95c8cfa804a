"""Views in PostgreSQL (``LEDGER_VIEWS=postgresql://…``) on a real server: a demo ledger rebuilt or caught
up into PostgreSQL gives exactly the rows, positions and versions it gives in SQLite; the API, wired
by ``runtime.bootstrap``, serves projections read from PostgreSQL; rows sort by code point whatever
the database's collation; connection failures never show a password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.main import create_app
from devtools.demo import generate
from devtools.kafka_broker import free_port
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import UnavailableError
from projections import registry
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from projections.store.postgres import PostgresViewStore
from projections.store.sqlite import SQLiteViewStore
from runtime.bootstrap import opened
from tests.postgres_fixtures import database_url

pytestmark = pytest.mark.postgres

Views = dict[str, tuple[list[tuple[str, str, Any]], dict[str, int], int | None]]


def views(store: ViewStore) -> Views:
    """Every registered view's rows (in store order), positions and version, read in one snapshot each."""
    found: Views = {}
    for p in registry.ALL:
        snap = store.snapshot(p.name)
        found[p.name] = ([(r.kind, r.key, r.data) for r in snap.rows], snap.positions, snap.version)
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    root = tmp_path_factory.mktemp("demo")
    ledger = Ledger(Settings(home=root / "home", keys_dir=root / "keys"))
    generate(ledger, retirees=40, seed=3)
    yield ledger
    ledger.close()


@pytest.fixture
def postgres(postgres_dsn: str) -> Iterator[PostgresViewStore]:
    store = PostgresViewStore(postgres_dsn)
    yield store
    store.close()


def test_a_rebuild_into_postgres_gives_exactly_the_rows_of_a_rebuild_into_sqlite(
    demo: Ledger, postgres: PostgresViewStore, tmp_path: Path
) -> None:
    sqlite = SQLiteViewStore(tmp_path / "views.db")
    try:
        assert ProjectionRunner(demo, sqlite, settle_s=0.0).rebuild() == demo.head()
        # small flushes: many transactions, both the COPY path and the executemany path
        assert ProjectionRunner(demo, postgres, settle_s=0.0, rebuild_rows=200).rebuild() == demo.head()
        expected = views(sqlite)
    finally:
        sqlite.close()
    assert views(postgres) == expected
    assert sum(len(rows) for rows, _, _ in expected.values()) > 1000
    assert {name: positions for name, (_, positions, _) in expected.items()} == {
        p.name: {"log": demo.head()} for p in registry.ALL}


def test_catching_up_batch_by_batch_in_postgres_gives_the_rows_of_a_rebuild(
    demo: Ledger, postgres: PostgresViewStore
) -> None:
    rebuilt = ProjectionRunner(demo, postgres, settle_s=0.0)
    rebuilt.rebuild()
    expected = views(postgres)
    for p in registry.ALL:  # existing, empty views: caught up with per-batch rows (reads go to PostgreSQL)
        postgres.drop(p.name)
        postgres.apply(p.name, p.version, {}, {})
    assert ProjectionRunner(demo, postgres, batch_size=97, settle_s=0.0).catch_up() == demo.head()
    assert views(postgres) == expected
    assert set(rebuilt.positions().values()) == {demo.head()}


def test_the_api_serves_a_projection_read_from_postgres(postgres_dsn: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"LEDGER_HOME": str(tmp_path / "home"), "LEDGER_VIEWS": postgres_dsn})
    community = {"code": "ZZ-HT-001", "name": "Hetang Community", "city": "Zhuzhou", "district": "Hetang",
                 "street": "Jianshe Rd", "kind": "urban_community"}
    staff = {"type": "staff_joined", "staff_id": "s1", "name": "Chen Jing", "role": "full_time",
             "qualified_social_worker": False, "joined_on": "2019-09-01"}
    with TestClient(create_app(settings, dev_mode=True), base_url="http://127.0.0.1") as client:
        assert client.post("/v1/communities", json=community).status_code == 201
        seq = client.post("/v1/communities/ZZ-HT-001/events", json=staff).json()["seq"]
        answer = client.get("/v1/projections/workload", params={"community": "ZZ-HT-001"},
                            headers={"Ledger-Min-Seq": str(seq)})
    assert answer.status_code == 200 and answer.json()["lag"] == 0
    assert answer.json()["rows"][0]["staff_joined"] == 1
    with psycopg.connect(postgres_dsn) as conn:
        stored = conn.execute("SELECT position FROM view_positions WHERE view='workload' AND source='log'").fetchone()
        rows = conn.execute("SELECT count(*) FROM view_rows WHERE view='workload'").fetchone()
    assert stored == (seq,) and rows is not None and rows[0] > 0
    assert not settings.views_path.exists()  # no SQLite view store was opened


def test_ledger_views_selects_the_postgres_store_and_sqlite_stays_the_default(
    postgres_dsn: str, tmp_path: Path
) -> None:
    chosen = Settings.from_env({"LEDGER_HOME": str(tmp_path / "pg"), "LEDGER_VIEWS": postgres_dsn})
    with opened(chosen) as services:
        assert isinstance(services.store, PostgresViewStore)
        services.ledger.handle(c.RegisterCommunity(code="CS-YL-001", name="Yinpenling Community", city="Changsha",
                                                   district="Yuelu", street="Yinpenling", kind="urban_community"))
        assert services.settle() == 1 and services.store.position("workload") == 1
    with opened(Settings.from_env({"LEDGER_HOME": str(tmp_path / "default")})) as services:
        assert isinstance(services.store, SQLiteViewStore)


def test_rows_sort_by_code_point_in_a_database_with_a_linguistic_collation(postgres_server: str) -> None:
    name = f"test_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu "
                              "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'").format(sql.Identifier(name)))
    try:
        store = PostgresViewStore(database_url(postgres_server, name))
        keys = ["a", "B", "_x", "é", "f", "Z", "Ba", "b"]
        store.apply("v", 1, {("k", key): {"key": key} for key in keys}, 1)
        assert [r.key for r in store.rows("v")] == sorted(keys) == ["B", "Ba", "Z", "_x", "a", "b", "f", "é"]
        assert [r.key for r in store.rows("v", "k", "B")] == ["B", "Ba"]
        store.close()
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_an_unreachable_server_is_unavailable_and_the_error_shows_no_password() -> None:
    port = free_port()
    dsn = f"postgresql://ledger:s3cret-pw@127.0.0.1:{port}/views"
    with pytest.raises(UnavailableError, match="cannot be opened") as raised:
        PostgresViewStore(dsn, timeout=2)
    assert "s3cret-pw" not in str(raised.value)
    settings = Settings.from_env({"LEDGER_VIEWS": dsn})
    assert settings.views_backend == "postgresql" and "s3cret-pw" not in repr(settings)
    assert settings.views_location == f"postgresql://ledger:***@127.0.0.1:{port}/views"


def test_a_name_postgres_cannot_store_is_refused_before_anything_is_written(postgres: PostgresViewStore) -> None:
    postgres.apply("v", 1, {("k", "a"): {"n": 1}}, 3)
    with pytest.raises(ValueError, match="NUL"):
        postgres.apply("v", 2, {("k", "b"): {"n": 2}, ("k", "nul\x00"): {"n": 3}}, 4)
    assert (postgres.version("v"), postgres.positions("v"), [r.key for r in postgres.rows("v")]) == (
        1, {"log": 3}, ["a"])
