"""The composition root: nothing built before start, read-your-writes views, failures that stay contained,
development mode only on loopback and loudly, tokens wired to the write context."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings
from ledger.errors import InvalidInputError
from ledger.integrity.checkpoints import init_signing_key
from ledger.tokens import TokenStore
from projections.base import ProjectionError
from runtime.bootstrap import Services

LOCAL = "http://127.0.0.1"

COMMUNITY = {"code": "ZZ-HT-001", "name": "Hetang Community", "city": "Zhuzhou", "district": "Hetang",
             "street": "Jianshe Rd", "kind": "urban_community"}
STAFF = {"type": "staff_joined", "staff_id": "s1", "name": "Chen Jing", "role": "full_time",
         "qualified_social_worker": False, "joined_on": "2019-09-01"}


def test_create_app_touches_nothing_until_the_app_starts(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    app = create_app(settings)
    assert not settings.home.exists()
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert (health["status"], health["head"], health["errors"]) == ("ok", 0, {})
        assert {view["name"]: view["lag"] for view in health["views"]} == dict.fromkeys(
            ("audit", "workload", "satisfaction", "pensions", "standards", "compliance", "training", "funding",
             "directory"), 0)
    assert settings.views_path.exists()


def test_settings_come_from_the_environment_when_not_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_HOME", str(tmp_path / "from-env"))
    with TestClient(create_app(dev_mode=True), base_url=LOCAL) as client:
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 201
    assert (tmp_path / "from-env" / "events.db").exists()


def test_views_see_a_write_as_soon_as_it_is_acknowledged(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        client.post("/v1/communities", json=COMMUNITY)
        client.post("/v1/communities/ZZ-HT-001/events", json=STAFF)
        rows = client.get("/v1/projections/workload", params={"community": "ZZ-HT-001"}).json()["rows"]
        assert rows[0]["month"] == "2019-09" and rows[0]["staff_joined"] == 1
        views = client.get("/v1/projections/status").json()["views"]
        assert {v["lag"] for v in views} == {0}
        assert {v["position"] for v in views} == {2}


def test_a_failing_projection_does_not_undo_an_acknowledged_write(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, dev_mode=True)
    with TestClient(app, base_url=LOCAL) as client:
        services: Services = app.state.services

        def broken(*_: object, **__: object) -> int:
            raise ProjectionError("workload cannot apply StaffJoined at seq 2", view="workload", seq=2)

        services.runner.catch_up = broken  # type: ignore[method-assign]
        client.post("/v1/communities", json=COMMUNITY)
        with caplog.at_level(logging.ERROR, logger="projections.follower"):
            response = client.post("/v1/communities/ZZ-HT-001/events", json=STAFF)
            assert response.status_code == 201
            rows = client.get("/v1/projections/workload")  # waits (bounded), then states the lag
        assert rows.status_code == 200 and rows.json()["lag"] == 2 and rows.headers["Ledger-Lag"] == "2"
        health = client.get("/health").json()
        assert health["head"] == 2 and health["status"] == "degraded"
        assert "workload cannot apply StaffJoined at seq 2" in health["errors"]["workload"]
        status = {v["name"]: v for v in client.get("/v1/projections/status").json()["views"]}
        assert "workload cannot apply StaffJoined at seq 2" in status["workload"]["error"]
        assert "workload cannot apply StaffJoined at seq 2" in caplog.text
        assert "Chen Jing" not in caplog.text


# ---- development mode -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "localhost", "example.org"])
def test_development_mode_refuses_to_serve_anything_but_loopback(settings: Settings, host: str) -> None:
    with pytest.raises(InvalidInputError, match=r"127\.0\.0\.1"):
        create_app(settings, dev_mode=True, host=host)
    create_app(settings, host=host)  # with tokens, any interface


def test_development_mode_says_so_loudly_at_start(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.main"), TestClient(create_app(settings, dev_mode=True)):
        pass
    warnings = [r for r in caplog.records if r.name == "api.main" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "DEVELOPMENT MODE" in warnings[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="api.main"), TestClient(create_app(settings)):
        pass
    assert "DEVELOPMENT MODE" not in caplog.text


def test_ledger_dev_mode_in_the_environment_switches_it_on(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DEV_MODE", "1")
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 201
        assert client.get("/v1/communities/ZZ-HT-001/history").json()[0]["recorded_by"] == "dev"
    with pytest.raises(InvalidInputError):
        create_app(settings, host="0.0.0.0")
    monkeypatch.setenv("LEDGER_DEV_MODE", "maybe")
    with pytest.raises(InvalidInputError, match="LEDGER_DEV_MODE"):
        create_app(settings)


def test_a_dev_server_reached_on_another_address_answers_nobody(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url="http://10.0.0.5") as client:
        assert client.get("/v1/projections/status").status_code == 403
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 403
        assert client.get("/health").json()["head"] == 0


def test_without_dev_mode_a_token_is_required_and_names_the_writer(settings: Settings) -> None:
    token, info = TokenStore.of(settings).create("agency", "city:Zhuzhou")
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 401
        written = client.post("/v1/communities", json=COMMUNITY, headers={"Authorization": f"Bearer {token}"})
        assert written.status_code == 201
        history = client.get("/v1/communities/ZZ-HT-001/history", headers={"Authorization": f"Bearer {token}"})
        assert history.json()[0]["recorded_by"] == info.principal.name == f"agency:city:Zhuzhou#{info.token_id}"


def test_a_signing_key_makes_the_api_sign_checkpoints_as_events_arrive(settings: Settings) -> None:
    init_signing_key(settings)
    with TestClient(create_app(settings, dev_mode=True, checkpoint_every=2), base_url=LOCAL) as client:
        client.post("/v1/communities", json=COMMUNITY)
        assert client.get("/v1/audit/checkpoints").json() == []
        client.post("/v1/communities/ZZ-HT-001/events", json=STAFF)
        assert [c["seq"] for c in client.get("/v1/audit/checkpoints").json()] == [2]
        report = client.get("/v1/audit/verify").json()
        assert {k: report[k] for k in ("ok", "checked", "head", "first_bad_seq", "signed", "checkpoints")} == {
            "ok": True, "checked": 2, "head": 2, "first_bad_seq": None, "signed": 2, "checkpoints": 1}
        assert report["root_hash"] == client.get("/v1/audit/checkpoints").json()[0]["root_hash"]


def test_without_a_signing_key_verification_checks_the_chain_alone(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        assert client.get("/v1/audit/public-key").status_code == 404
        client.post("/v1/communities", json=COMMUNITY)
        report = client.get("/v1/audit/verify").json()
        assert (report["ok"], report["checked"], report["head"], report["signed"], report["checkpoints"]) == (
            True, 1, 1, 0, 0)
        assert report["first_bad_seq"] is None and report["reason"] is None


def test_verification_names_the_first_event_changed_behind_the_ledgers_back(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        client.post("/v1/communities", json=COMMUNITY)
        client.post("/v1/communities/ZZ-HT-001/events", json=STAFF)
        with closing(sqlite3.connect(settings.events_path)) as db, db:
            state = bytearray(db.execute("SELECT state FROM stored_events WHERE rowid = 2").fetchone()[0])
            state[-1] ^= 1
            db.execute("UPDATE stored_events SET state = ? WHERE rowid = 2", (bytes(state),))
        report = client.get("/v1/audit/verify").json()
        assert (report["ok"], report["first_bad_seq"], report["checked"]) == (False, 2, 1)
