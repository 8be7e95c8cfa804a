"""A real Apache Kafka broker for development, tests and CI, without Docker.

Its jars come from Maven Central and are cached by version outside the work tree;
:class:`KafkaBroker` runs one combined KRaft node on 127.0.0.1. ``python -m
devtools.kafka_broker up|down|status [HOME]`` manages a detached one in ``HOME/kafka``
(``up --nodes 3``: three nodes, replication 3, in ``HOME/kafka-cluster``; see ``devtools.kafka_cluster``).
Environment: ``LEDGER_KAFKA_VERSION``, ``LEDGER_CACHE_DIR`` (default
``~/.cache/social-care-ledger``), ``JAVA_HOME`` (else ``java`` on PATH), ``LEDGER_HOME`` (CLI).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from devtools.kafka_jars import BrokerError, ensure_jars, kafka_version

DEFAULT_PORT = 9092
JVM_FLAGS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
             "-Dlog4j2.shutdownHookEnabled=false")  # else the broker's shutdown goes unlogged
SETTINGS = {  # a combined node; node.id, listeners, quorum voters and log.dirs are added per broker
    "process.roles": "broker,controller",
    "inter.broker.listener.name": "PLAINTEXT", "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "auto.create.topics.enable": "false",
    "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1", "group.initial.rebalance.delay.ms": "0",
    "num.network.threads": "2", "num.io.threads": "2", "background.threads": "2",
    "log.cleaner.dedupe.buffer.size": "2097152",  # else the cleaner takes 128 MiB of heap
}
_LOG4J2 = ("status = warn\nappender.file.type = File\nappender.file.name = FILE\n"
           "appender.file.fileName = {log}\nappender.file.layout.type = PatternLayout\n"
           "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
           "rootLogger.level = INFO\nrootLogger.appenderRef.file.ref = FILE\n")


def free_port(avoid: int = 0) -> int:
    """A TCP port on 127.0.0.1 that is free now (another process may still take it)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != avoid:
            return port


def new_cluster_id() -> str:
    """A cluster id as Kafka's ``random-uuid`` makes one: 16 random bytes, URL-safe base64."""
    return "A" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[1:22]


def bindable(port: int) -> bool:
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM's listener does
        sock.bind(("127.0.0.1", port))
        return True
    return False


def _ready(port: int, log: Path) -> bool:
    """Whether this run's log says the broker started (so whatever answers on the port is ours),
    the port accepts connections and, with kafka-python installed, an admin client lists topics."""
    try:
        if "Kafka Server started" not in log.read_text(errors="replace"):
            return False
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        kafka = importlib.import_module("kafka")  # kafka-python, imported only when needed
    except OSError:
        return False
    except ImportError:
        return True
    admin = None
    try:
        admin = kafka.KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}",
                                       request_timeout_ms=5000, bootstrap_timeout_ms=5000)
        return isinstance(admin.list_topics(), list)
    except Exception:
        return False
    finally:
        if admin is not None:
            admin.close()


def _story(data_dir: Path) -> str:
    """What the broker's log says went wrong: its first ERROR (with the line after it, usually the
    exception), its last lines, and the last lines of the JVM's own output."""
    parts = []
    for name, count in (("broker.log", 25), ("broker.out", 10)):
        try:
            lines = (data_dir / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        first = next((n for n, line in enumerate(lines) if "] ERROR " in line), None)
        if first is not None:
            parts += [f"{data_dir / name}, first error:", *lines[first:first + 2]]
        parts += [f"{data_dir / name} ends:", *lines[-count:]]
    return "\n".join(parts)


def _live_pid(data_dir: Path) -> int | None:
    """The pid in ``data_dir/broker.pid`` if that process is alive and is this dir's broker."""
    try:
        pid = int((data_dir / "broker.pid").read_text())
        os.kill(pid, 0)
        if Path("/proc/self").exists():  # a reused pid, or a zombie (empty cmdline), is not ours
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if str(data_dir / "server.properties").encode() not in cmdline:
                return None
    except (OSError, ValueError):
        return None
    return pid


class KafkaBroker:
    """One combined KRaft node on 127.0.0.1 whose data, config and logs live in *data_dir*.

    Storage is formatted on the first start only: a later start (after :meth:`stop` or
    :meth:`kill`) keeps the topics. ``broker.pid`` and ``broker.port`` in *data_dir* let another
    process find the broker. Its log is ``broker.log`` (the previous run's: ``broker.log.1``);
    the JVM's own output goes to ``broker.out``.
    """

    def __init__(self, data_dir: Path, port: int | None = None,
                 controller_port: int | None = None, *, version: str | None = None,
                 detached: bool = False, node_id: int = 1, voters: str | None = None,
                 cluster_id: str | None = None, settings: Mapping[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = free_port() if port is None else port
        self.controller_port = free_port(self.port) if controller_port is None else controller_port
        self.version = version or kafka_version()
        self.detached = detached  # in its own session: outlives this process and its terminal
        self.node_id = node_id
        self.voters = voters  # the quorum, "ID@HOST:PORT,…"; None: this node alone
        self.cluster_id = cluster_id  # used when the storage is formatted; None: a new one
        self.settings = dict(settings or {})  # over SETTINGS (a cluster's replication)
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and _live_pid(self.data_dir) == self.pid

    def start(self, timeout: float = 90) -> KafkaBroker:
        """Start the broker; return once clients can list topics, within *timeout* seconds (not
        counting the one-off jar download). Raises :class:`BrokerError` if it dies or is late."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Format the storage on the first start, then start the JVM without waiting for it (the
        nodes of a cluster are launched together: none is ready before a quorum runs)."""
        if _live_pid(self.data_dir) is not None:
            raise BrokerError(f"a broker already runs in {self.data_dir}")
        classpath = str(ensure_jars(self.version) / "*")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config, log = self.data_dir / "server.properties", self.data_dir / "broker.log"
        controller = f"127.0.0.1:{self.controller_port}"
        settings = {**SETTINGS, **self.settings, "node.id": str(self.node_id),
                    "log.dirs": str(self.data_dir / "data"),
                    "controller.quorum.voters": self.voters or f"{self.node_id}@{controller}",
                    "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://{controller}",
                    "advertised.listeners": f"PLAINTEXT://{self.bootstrap}"}
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(log=log))
        if log.exists():
            log.replace(self.data_dir / "broker.log.1")
        java = [str(Path(os.environ["JAVA_HOME"], "bin", "java")) if "JAVA_HOME" in os.environ
                else "java", *JVM_FLAGS, "-cp", classpath,
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}"]
        try:
            if not (self.data_dir / "data" / "meta.properties").exists():
                done = subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t",
                                       self.cluster_id or new_cluster_id(), "-c", str(config)],
                                      stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    output = (done.stdout + done.stderr).strip()[-600:]
                    raise BrokerError(f"formatting {self.data_dir} failed: {output}")
            with (self.data_dir / "broker.out").open("ab") as out:
                self._process = subprocess.Popen(
                    [*java, "kafka.Kafka", str(config)], stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=self.detached)
        except FileNotFoundError:
            raise BrokerError(f"{java[0]} not found: install JDK 17+ or set JAVA_HOME") from None
        self.pid = self._process.pid
        (self.data_dir / "broker.pid").write_text(f"{self.pid}\n")
        (self.data_dir / "broker.port").write_text(f"{self.port}\n")
        (self.data_dir / "controller.port").write_text(f"{self.controller_port}\n")

    def wait_ready(self, timeout: float = 90) -> KafkaBroker:
        """Wait until the launched broker answers clients; SIGKILL it and raise :class:`BrokerError`
        if it exits or is not ready within *timeout* seconds."""
        assert self._process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while not _ready(self.port, self.data_dir / "broker.log"):
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                self.kill()
                problem = f"not ready in {timeout:g}s" if code is None else f"exited ({code})"
                raise BrokerError(f"Kafka broker {problem}.\n{_story(self.data_dir)}")
            time.sleep(0.25)
        return self

    def stop(self, timeout: float = 30) -> None:
        """Shut down gracefully (SIGTERM to this broker's own pid); SIGKILL after *timeout* s."""
        if not self._signal(signal.SIGTERM, timeout):
            self._signal(signal.SIGKILL, 10)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; its data stays for a later :meth:`start`."""
        self._signal(signal.SIGKILL, 10)

    def _signal(self, signum: signal.Signals, timeout: float) -> bool:
        """Send *signum* to this broker only; whether it has exited within *timeout* seconds."""
        if self._process is not None:
            self._process.send_signal(signum)  # a no-op once the process has been reaped
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout)
        elif self.running and self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)
            deadline = time.monotonic() + timeout
            while self.running and time.monotonic() < deadline:
                time.sleep(0.1)
        if self.running:
            return False
        with contextlib.suppress(OSError, ValueError):
            if int((self.data_dir / "broker.pid").read_text()) == self.pid:
                (self.data_dir / "broker.pid").unlink()
        return True

    @classmethod
    def attach(cls, data_dir: Path) -> KafkaBroker | None:
        """The broker running in *data_dir*, perhaps started by another process; None if none."""
        data_dir = Path(data_dir).resolve()
        pid = _live_pid(data_dir)
        if pid is None:
            return None
        broker = cls(data_dir, int((data_dir / "broker.port").read_text()), 0)
        broker.pid = pid
        return broker

    def __enter__(self) -> KafkaBroker:
        return self if self.running else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


_STARTED: dict[Path, KafkaBroker] = {}  # brokers up() started in this process, to reap on down()


def up(home: Path, timeout: float = 90, nodes: int = 1) -> str:
    """Start a detached broker in ``home/kafka`` unless one runs there; return its bootstrap.

    Its port is the one it had last time, else 9092, else any port, whichever is free first.
    ``nodes=3``: a three-node cluster in ``home/kafka-cluster`` instead (``devtools.kafka_cluster``).
    """
    if nodes != 1:
        from devtools import kafka_cluster  # it builds on this module

        if nodes != kafka_cluster.NODES:
            raise BrokerError(f"a cluster has {kafka_cluster.NODES} nodes here, not {nodes}")
        return kafka_cluster.up(home, max(timeout, 120))
    data_dir = (Path(home) / "kafka").resolve()
    running = status(home, nodes=1)
    if running is not None:
        return running
    last = 0
    with contextlib.suppress(OSError, ValueError):
        last = int((data_dir / "broker.port").read_text())
    port = next((p for p in (last, DEFAULT_PORT) if p and bindable(p)), None) or free_port()
    broker = _STARTED[data_dir] = KafkaBroker(data_dir, port, detached=True)
    return broker.start(timeout).bootstrap


def down(home: Path, timeout: float = 30) -> bool:
    """Stop the broker running in ``home/kafka`` and the cluster in ``home/kafka-cluster``; whether
    there was one."""
    from devtools import kafka_cluster

    data_dir = (Path(home) / "kafka").resolve()
    broker = _STARTED.pop(data_dir, None) or KafkaBroker.attach(data_dir)
    single = broker is not None and broker.running
    if broker is not None and single:
        broker.stop(timeout)
    return kafka_cluster.down(home, timeout) or single


def status(home: Path, nodes: int | None = None) -> str | None:
    """The bootstrap of the broker running in ``home/kafka`` (``nodes=1``), of the cluster in
    ``home/kafka-cluster`` (``nodes=3``), or of either (None); None if not running."""
    from devtools import kafka_cluster

    broker = KafkaBroker.attach(Path(home) / "kafka") if nodes in (None, 1) else None
    if broker is not None:
        return broker.bootstrap
    return kafka_cluster.status(home) if nodes != 1 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.kafka_broker",
                                     description="A development Kafka broker in HOME/kafka, or a "
                                                 "three-node cluster in HOME/kafka-cluster.")
    parser.add_argument("verb", choices=("fetch", "up", "down", "status"))
    parser.add_argument("home", nargs="?", type=Path,
                        default=Path(os.environ.get("LEDGER_HOME") or ".ledger"),
                        help="the ledger's home (default: $LEDGER_HOME, else ./.ledger)")
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1,
                        help="up: one broker (default) or a cluster of three (replication 3, min ISR 2)")
    args = parser.parse_args(argv)
    try:
        if args.verb == "fetch":
            print(f"Kafka {kafka_version()} jars in {ensure_jars()}")
            return 0
        if args.verb == "status":
            bootstrap = status(args.home)
            print(bootstrap or "not running")
            return 0 if bootstrap else 1
        print(up(args.home, nodes=args.nodes) if args.verb == "up" else
              "stopped" if down(args.home) else "not running")
    except BrokerError as error:
        print(f"kafka broker: {error}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
