"""docker-compose.yml cannot run here (no Docker engine); parse it and check what it promises (issue 10's shape:
three KRaft brokers with replication 3 and min ISR 2, PostgreSQL, the writer, a read API and two workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cli.worker import owned_partitions

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
BROKERS = ("kafka-1", "kafka-2", "kafka-3")
LEDGER_SERVICES = {"writer": "ledger serve", "reader": "ledger serve", "worker-1": "ledger projections run",
                   "worker-2": "ledger projections run"}
LOG = "kafka://kafka-1:9092,kafka-2:9092,kafka-3:9092"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def healthy(service: dict[str, Any]) -> set[str]:
    """The services this one waits for until they are healthy."""
    return {name for name, when in service["depends_on"].items() if when == {"condition": "service_healthy"}}


def test_it_runs_three_brokers_postgresql_the_writer_a_read_api_and_two_workers() -> None:
    assert set(compose()["services"]) == {*BROKERS, "postgres", *LEDGER_SERVICES}


def test_the_brokers_are_one_kraft_quorum_of_the_official_4x_image_with_replication_3_and_min_isr_2() -> None:
    services = compose()["services"]
    envs = [services[name]["environment"] for name in BROKERS]
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    for n, (name, env) in enumerate(zip(BROKERS, envs, strict=True), 1):
        broker = services[name]
        image, tag = broker["image"].split(":")
        assert image == "apache/kafka" and tag.startswith("4.")
        assert (env["KAFKA_NODE_ID"], env["KAFKA_ADVERTISED_LISTENERS"]) == (str(n), f"PLAINTEXT://{name}:9092")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert "kafka-broker-api-versions.sh" in " ".join(broker["healthcheck"]["test"])
        assert broker["volumes"] == [f"{name}-data:/var/lib/kafka/data"]
    assert len({env["CLUSTER_ID"] for env in envs}) == 1 and envs[0]["CLUSTER_ID"]


def test_postgresql_holds_the_views_of_every_ledger_service() -> None:
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    env = postgres["environment"]
    url = f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/{env['POSTGRES_DB']}"
    for name in LEDGER_SERVICES:
        assert services[name]["environment"]["LEDGER_VIEWS"] == url
        assert "postgres" in healthy(services[name])


def test_each_ledger_service_runs_its_command_on_the_replicated_log_with_its_own_home() -> None:
    doc = compose()
    homes = set()
    for name, verb in LEDGER_SERVICES.items():
        service = doc["services"][name]
        env = service["environment"]
        assert verb in service["command"] and f"--log {LOG}" in service["command"]
        assert env["LEDGER_LOG"] == LOG
        assert (env["KAFKA_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
        named = {volume.split(":")[0] for volume in service["volumes"] if not volume.startswith("./")}
        assert named <= set(doc["volumes"]) and "ledger-keys" in named  # one data key for every reader of the log
        assert env["LEDGER_HOME"] == f"/data/{name}" and f"{name}-data:/data/{name}" in service["volumes"]
        homes.add(env["LEDGER_HOME"])
    assert len(homes) == len(LEDGER_SERVICES)


def test_only_the_writer_appends_and_both_api_processes_share_one_index() -> None:
    services = compose()["services"]
    envs = {name: services[name]["environment"] for name in LEDGER_SERVICES}
    assert "LEDGER_WRITER" not in envs["writer"]
    assert {envs[name]["LEDGER_WRITER"] for name in ("reader", "worker-1", "worker-2")} == {"http://writer:8000"}
    assert envs["writer"]["LEDGER_INDEX"] == envs["reader"]["LEDGER_INDEX"] == envs["writer"]["LEDGER_VIEWS"]


def test_the_workers_split_the_topics_partitions_between_them_and_the_api_processes_only_read_views() -> None:
    services = compose()["services"]
    owned = [owned_partitions(_option(services[name]["command"], "--partitions")) or []
             for name in ("worker-1", "worker-2")]
    partitions = int(services["writer"]["environment"]["KAFKA_PARTITIONS"])  # the writer creates the topic
    assert sorted(owned[0] + owned[1]) == list(range(partitions)) and partitions >= 2  # one owner each
    assert all("--views" not in services[name]["command"] for name in ("worker-1", "worker-2"))  # every view
    assert "--checkpoints" in services["worker-1"]["command"] and "--checkpoints" not in services["worker-2"]["command"]
    assert {services[name]["environment"]["LEDGER_FOLLOW"] for name in ("writer", "reader")} == {"0"}


def _option(command: str, name: str) -> str:
    words = command.split()
    return words[words.index(name) + 1]


def test_the_writer_waits_for_every_broker_and_the_others_for_the_writer() -> None:
    services = compose()["services"]
    writer = services["writer"]
    assert healthy(writer) == {*BROKERS, "postgres"}
    assert "pip install" in writer["command"] and "/health" in " ".join(writer["healthcheck"]["test"])
    for name in ("reader", "worker-1", "worker-2"):
        assert healthy(services[name]) == {"writer", "postgres"}
        assert services[name]["command"].startswith("/venv/bin/ledger ")  # the writer installed it
    assert (writer["ports"], services["reader"]["ports"]) == (["8000:8000"], ["8001:8000"])
    assert "ports" not in services["worker-1"] and "ports" not in services["worker-2"]
