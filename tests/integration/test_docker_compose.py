"""docker-compose.yml cannot run here (no Docker engine); parse it and check what it promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_it_runs_kafka_the_api_writer_and_a_projection_worker() -> None:
    assert set(compose()["services"]) == {"kafka", "api", "projections"}


def test_kafka_is_the_official_4x_image_in_kraft_single_node_mode_with_a_healthcheck() -> None:
    kafka = compose()["services"]["kafka"]
    image, tag = kafka["image"].split(":")
    assert image == "apache/kafka" and tag.startswith("4.")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["CLUSTER_ID"]
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    assert any(volume.startswith("kafka-data:") for volume in kafka["volumes"])


def test_the_api_and_worker_use_the_kafka_backend_and_named_volumes() -> None:
    doc = compose()
    for name, verb in (("api", "ledger serve"), ("projections", "ledger projections run")):
        service = doc["services"][name]
        assert service["environment"]["LEDGER_LOG"] == "kafka://kafka:9092"
        assert verb in service["command"] and "--log kafka://kafka:9092" in service["command"]
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        named = {volume.split(":")[0] for volume in service["volumes"] if not volume.startswith("./")}
        assert named <= set(doc["volumes"])
        assert service["environment"]["LEDGER_HOME"].startswith("/data/")
    assert doc["services"]["api"]["ports"] == ["8000:8000"]
