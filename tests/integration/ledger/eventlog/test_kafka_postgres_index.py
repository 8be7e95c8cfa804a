"""The Kafka log's index in PostgreSQL (``LEDGER_INDEX``), shared by the writer and reader processes.

On a real broker and a real PostgreSQL: what the writer appends, a reader process (``LEDGER_WRITER``
set, another home, the same keys) serves from the shared index, with the same hashes, histories,
state and Merkle tree; the reader refuses appends (in process and over HTTP with a 503 naming the
writer) and never fences the writer; the index rebuilds from the topic alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.domain.values import community_uuid
from ledger.errors import NotTheWriterError
from ledger.eventlog.kafka import rebuild_index
from tests.backends import settings_for
from tests.e2e.conftest import make_tokens, serving
from tests.people import id_number

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
TODAY = date(2026, 6, 30)
WRITER = "http://writer.internal:8000"


@pytest.fixture
def writer_settings(tmp_path: Path, request: pytest.FixtureRequest, postgres_dsn: str) -> Settings:
    return replace(settings_for("kafka", tmp_path / "writer", request), index_url=postgres_dsn)


def reader_of(writer: Settings, home: Path) -> Settings:
    """Another process on another machine: its own home, the writer's keys, the shared index."""
    return replace(writer, home=home, keys_dir=writer.keys_path, writer_url=WRITER)


@pytest.fixture
def writer(writer_settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(writer_settings, clock=lambda: TODAY)
    yield ledger
    ledger.close()


def register(app: Ledger, code: str) -> c.Appended:
    return app.handle(c.RegisterCommunity(code=code, name="Community", city="Zhuzhou", district="Hetang",
                                          street="Street", kind="urban_community"))


def enroll(app: Ledger, sequence: int) -> c.Appended:
    born = date(1950, 3, 1)
    return app.handle(c.Enroll(name=f"Retiree {sequence}", id_number=id_number(born, sequence), sex="female",
                               birth_date=born, danwei_code="D-1", danwei_name="Mill",
                               retirement_date=date(2005, 1, 1), monthly_pension=Decimal("2000"), agency="SIA",
                               city="Zhuzhou", district="Hetang"))


def test_a_reader_serves_what_the_writer_appended_from_the_shared_index(writer: Ledger, tmp_path: Path) -> None:
    register(writer, "ZZ-1")
    retiree = enroll(writer, 1)
    reader = Ledger(reader_of(writer.settings, tmp_path / "reader"), clock=lambda: TODAY)
    try:
        head = writer.head()
        assert head >= 2 and reader.head() == head
        assert [(r.id, r.hash) for r in reader.read_log()] == [(r.id, r.hash) for r in writer.read_log()]
        stream = community_uuid("ZZ-1")
        assert [e.seq for e in reader.history(stream)] == [e.seq for e in writer.history(stream)]
        assert reader.retiree(retiree.id).monthly_pension == Decimal("2000")  # type: ignore[arg-type]
        assert reader.log.merkle(lambda _node, size: size) == head

        register(writer, "ZZ-2")  # the writer goes on (a reader never fences it) and the reader sees it
        assert reader.head() == head + 1 and reader.community("ZZ-2", read_only=True).name == "Community"
        assert not (tmp_path / "reader" / "kafka-index.db").exists()
    finally:
        reader.close()


def test_a_reader_refuses_appends_and_names_the_writer(writer: Ledger, tmp_path: Path) -> None:
    register(writer, "ZZ-1")
    reader = Ledger(reader_of(writer.settings, tmp_path / "reader"), clock=lambda: TODAY)
    try:
        with pytest.raises(NotTheWriterError, match=r"writer\.internal:8000"):
            register(reader, "ZZ-9")
        with pytest.raises(NotTheWriterError):
            reader.handle_many([(c.RegisterCommunity(code="ZZ-8", name="N", city="Zhuzhou", district="H",
                                                     street="S", kind="urban_community"), c.Context())])
        assert writer.head() == reader.head() == 1
    finally:
        reader.close()


def test_over_http_a_reader_answers_reads_and_refuses_writes_with_503(writer: Ledger, tmp_path: Path) -> None:
    register(writer, "ZZ-1")
    settings = writer.settings
    home = tmp_path / "reader-api"
    home.mkdir()
    tokens = make_tokens(home)
    env = {"LEDGER_LOG": settings.log_url, "LEDGER_KAFKA_TOPIC": settings.kafka_topic,
           "LEDGER_NAME": settings.ledger_name, "LEDGER_INDEX": settings.index_url, "LEDGER_WRITER": WRITER,
           "LEDGER_KEYS_DIR": str(settings.keys_path)}
    with serving(create_app(), home, env) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        read = http.get("/v1/communities/ZZ-1", headers=tokens.headers("auditor"))
        assert read.status_code == 200 and "ZZ-1" in read.text
        refused = http.post("/v1/communities", headers=tokens.headers("agency_zz"),
                            json={"code": "ZZ-2", "name": "Other", "city": "Zhuzhou", "district": "Hetang",
                                  "street": "Street", "kind": "urban_community"})
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["type"].endswith("/not-the-writer") and body["writer"] == WRITER and WRITER in body["detail"]
    assert writer.head() == 1


def test_the_postgres_index_rebuilds_from_the_topic_alone(writer: Ledger) -> None:
    for n in range(3):
        register(writer, f"ZZ-{n}")
    before = [(r.id, r.originator_id, r.originator_version, r.hash) for r in writer.read_log()]
    root = writer.log.merkle(lambda node, size: (size, node(0, 0)))
    settings, env = writer.settings, dict(writer.env.items())
    writer.close()
    assert rebuild_index(env) == 3
    ledger = Ledger(settings, clock=lambda: TODAY)
    try:
        assert [(r.id, r.originator_id, r.originator_version, r.hash) for r in ledger.read_log()] == before
        assert ledger.log.merkle(lambda node, size: (size, node(0, 0))) == root
        register(ledger, "ZZ-9")  # the writer goes on from the rebuilt index
        assert ledger.head() == 4
    finally:
        ledger.close()
