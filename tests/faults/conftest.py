"""Fault tests: real processes killed while the ledger runs (marker ``faults``; they run in CI and never skip).

``kafka_cluster`` is a three-node KRaft cluster on loopback (``devtools.kafka_cluster``: replication 3,
``min.insync.replicas=2``) for the module; a cluster that cannot start fails the tests with the nodes'
own errors. Every node is stopped at the end, by its own pid.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.kafka_cluster import KafkaCluster


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        assert not [node.node_id for node in cluster.brokers if node.running], "a node outlived stop()"
