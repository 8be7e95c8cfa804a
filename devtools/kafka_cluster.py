"""Three Kafka nodes on loopback for fault tests: :class:`KafkaCluster`, built of :class:`KafkaBroker`\\ s.

Every node is a combined KRaft broker and controller (``node.id`` 1..N, the same static quorum and
cluster id, its own free ports and data dir), with replication 3, ``min.insync.replicas=2`` and no
unclean leader election; a killed node is fenced after ``broker.session.timeout.ms`` (3 s) and leaves
the ISR after ``replica.lag.time.max.ms`` (5 s). ``python -m devtools.kafka_broker up --nodes 3``
(``ledger kafka up --nodes 3``) runs a detached one in ``HOME/kafka-cluster``.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from devtools.kafka_broker import KafkaBroker, bindable, free_port, new_cluster_id
from devtools.kafka_jars import BrokerError, ensure_jars

NODES = 3
REPLICATED = {  # over the single node's settings (KAFKA-FACTS.md, "Three nodes on loopback")
    "default.replication.factor": "3", "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3", "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    "broker.heartbeat.interval.ms": "500", "broker.session.timeout.ms": "3000",
    "replica.lag.time.max.ms": "5000",
}
Partitions = dict[tuple[str, int], tuple[int, list[int]]]
"""(topic, partition) -> (leader node id, -1 if none; in-sync node ids)."""


class KafkaCluster:
    """*nodes* combined KRaft nodes in ``data_dir/node1`` … sharing one quorum and cluster id.

    Ports are free ports chosen now, unless *ports* gives (client, controller) per node (a restart
    of a stopped cluster keeps its ports). Each node is a :class:`KafkaBroker` (``node(n)``): kill,
    stop and restart it on its own; it keeps its ports and data.
    """

    def __init__(self, data_dir: Path, nodes: int = NODES, *, ports: list[tuple[int, int]] | None = None,
                 version: str | None = None, detached: bool = False) -> None:
        if ports is None:
            taken: set[int] = set()
            while len(taken) < 2 * nodes:
                taken.add(free_port())
            chosen = sorted(taken)
            ports = [(chosen[2 * n], chosen[2 * n + 1]) for n in range(nodes)]
        self.data_dir = Path(data_dir).resolve()
        voters = ",".join(f"{n}@127.0.0.1:{controller}" for n, (_, controller) in enumerate(ports, 1))
        cluster_id = new_cluster_id()
        self.brokers = [KafkaBroker(self.data_dir / f"node{n}", port, controller, version=version,
                                    detached=detached, node_id=n, voters=voters, cluster_id=cluster_id,
                                    settings=REPLICATED)
                        for n, (port, controller) in enumerate(ports, 1)]

    @property
    def bootstrap(self) -> str:
        """Every node's address, comma-separated (what clients take as ``bootstrap_servers``)."""
        return ",".join(broker.bootstrap for broker in self.brokers)

    def node(self, node_id: int) -> KafkaBroker:
        return self.brokers[node_id - 1]

    def start(self, timeout: float = 120) -> KafkaCluster:
        """Launch every node at once (a quorum needs most of them), then wait until each is ready;
        if one fails, stop them all and raise its :class:`BrokerError`."""
        ensure_jars(self.brokers[0].version)  # once, before the clock starts
        try:
            for broker in self.brokers:
                broker.launch()
            for broker in self.brokers:
                broker.wait_ready(timeout)
        except BaseException:
            self.stop(timeout=10)
            raise
        return self

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to every running node's own pid at once (one by one, the last would wait for a
        lost quorum); SIGKILL after *timeout* seconds."""
        running = [broker for broker in self.brokers if broker.running]
        if running:
            with ThreadPoolExecutor(len(running)) as pool:
                list(pool.map(lambda broker: broker.stop(timeout), running))

    def partitions(self, topics: list[str] | None = None) -> Partitions:
        """The leader and ISR of every partition of *topics* (None: all, internal ones too), as the
        cluster's metadata says now; asks the nodes that run."""
        kafka = importlib.import_module("kafka")  # kafka-python, only when asked
        bootstrap = ",".join(broker.bootstrap for broker in self.brokers if broker.running)
        admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000,
                                       bootstrap_timeout_ms=10000)
        try:
            described = admin.describe_topics(topics)
        finally:
            admin.close()
        return {(topic["name"], part["partition_index"]): (part["leader_id"], sorted(part["isr_nodes"]))
                for topic in described for part in topic["partitions"]}

    def wait_in_sync(self, node_id: int, topics: list[str] | None = None, timeout: float = 120) -> float:
        """Wait until node *node_id* is in the ISR of every partition of *topics*; the seconds it took.
        Raises :class:`BrokerError` when it is not within *timeout*."""
        began = time.monotonic()
        missing: list[tuple[str, int]] = []
        while time.monotonic() - began < timeout:
            with contextlib.suppress(Exception):  # a node that is still starting may not answer
                found = self.partitions(topics)
                missing = [where for where, (_, isr) in found.items() if node_id not in isr]
                if found and not missing:
                    return time.monotonic() - began
            time.sleep(0.25)
        raise BrokerError(f"node {node_id} not in sync within {timeout:g}s; out of the ISR of {missing[:5]}")

    @classmethod
    def attach(cls, data_dir: Path) -> list[KafkaBroker]:
        """The nodes running in ``data_dir/node*``, perhaps started by another process."""
        found = (KafkaBroker.attach(node) for node in sorted(Path(data_dir).glob("node*")))
        return [broker for broker in found if broker is not None]

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _last_ports(data_dir: Path, nodes: int) -> list[tuple[int, int]] | None:
    """The ports the cluster in *data_dir* had last time, if it had *nodes* nodes and all are free."""
    ports = []
    for n in range(1, nodes + 1):
        try:
            port, controller = (int((data_dir / f"node{n}" / name).read_text())
                                for name in ("broker.port", "controller.port"))
        except (OSError, ValueError):
            return None
        ports.append((port, controller))
    every = [p for pair in ports for p in pair]
    return ports if len(set(every)) == len(every) and all(map(bindable, every)) else None


_STARTED: dict[Path, KafkaCluster] = {}  # clusters up() started in this process, to reap on down()


def up(home: Path, timeout: float = 120) -> str:
    """Start a detached cluster in ``home/kafka-cluster`` unless one runs there; return its bootstrap."""
    data_dir = (Path(home) / "kafka-cluster").resolve()
    running = status(home)
    if running is not None:
        return running
    if KafkaCluster.attach(data_dir):
        raise BrokerError(f"part of a cluster runs in {data_dir}: `down` it first")
    cluster = _STARTED[data_dir] = KafkaCluster(data_dir, ports=_last_ports(data_dir, NODES), detached=True)
    return cluster.start(timeout).bootstrap


def down(home: Path, timeout: float = 30) -> bool:
    """Stop every node running in ``home/kafka-cluster``; whether there was one."""
    data_dir = (Path(home) / "kafka-cluster").resolve()
    started = _STARTED.pop(data_dir, None)
    nodes = [b for b in started.brokers if b.running] if started is not None else KafkaCluster.attach(data_dir)
    if not nodes:
        return False
    with ThreadPoolExecutor(len(nodes)) as pool:
        list(pool.map(lambda broker: broker.stop(timeout), nodes))
    return True


def status(home: Path) -> str | None:
    """The bootstrap of the cluster in ``home/kafka-cluster`` when all its nodes run, else None."""
    nodes = KafkaCluster.attach(Path(home) / "kafka-cluster")
    return ",".join(b.bootstrap for b in nodes) if len(nodes) == NODES else None
