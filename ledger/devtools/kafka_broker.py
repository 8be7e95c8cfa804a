"""A real Apache Kafka broker for development, tests and CI, without Docker.

The broker's jars come from Maven Central (``mvn dependency:copy-dependencies``) and are cached by
version outside the work tree. :class:`KafkaBroker` runs one combined KRaft node (broker and
controller, node id 1) on 127.0.0.1. ``python -m ledger.devtools.kafka_broker up|down|status [HOME]``
runs a detached broker whose data lives in ``HOME/kafka``.

Environment: ``LEDGER_KAFKA_VERSION`` (default :data:`KAFKA_VERSION`), ``LEDGER_CACHE_DIR`` (default
``~/.cache/social-care-ledger``), ``JAVA_HOME`` (else ``java`` on PATH), ``LEDGER_HOME`` (CLI only).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

KAFKA_VERSION = "4.1.2"
LOG4J_VERSION = "2.25.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
DEFAULT_PORT = 9092
JVM_FLAGS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")
SETTINGS = {  # the single-node settings; listeners, quorum and log.dirs are added per broker
    "process.roles": "broker,controller", "node.id": "1",
    "inter.broker.listener.name": "PLAINTEXT", "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "auto.create.topics.enable": "false",
    "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "num.network.threads": "2", "num.io.threads": "2", "background.threads": "2",
    "log.cleaner.dedupe.buffer.size": "2097152",  # else the cleaner takes 128 MiB of heap at start
}
_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.social-care-ledger</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
{log4j}  </dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId><version>{plugin}</version></plugin></plugins></build>
</project>
"""
_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
"""


class BrokerError(RuntimeError):
    """The broker's jars could not be fetched, or the broker did not start."""


def kafka_version() -> str:
    """The Kafka version to run: ``LEDGER_KAFKA_VERSION`` or :data:`KAFKA_VERSION`."""
    return os.environ.get("LEDGER_KAFKA_VERSION") or KAFKA_VERSION


def ensure_jars(version: str | None = None) -> Path:
    """Return the directory holding every runtime jar of Kafka *version*, fetching them only once.

    The cache (``$LEDGER_CACHE_DIR/kafka-VERSION``, default under ``~/.cache/social-care-ledger``)
    counts as complete only once its marker file exists, written after mvn succeeded, so an
    interrupted download is redone. Concurrent callers wait for each other on a lock file.
    """
    version = version or kafka_version()
    base = os.environ.get("LEDGER_CACHE_DIR") or Path.home() / ".cache" / "social-care-ledger"
    root = Path(base) / f"kafka-{version}"
    jars, marker = root / "libs", root / "libs.complete"
    if marker.exists():
        return jars
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if marker.exists():
            return jars
        shutil.rmtree(jars, ignore_errors=True)
        log4j = "".join(
            f"    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>{name}"
            f"</artifactId>\n      <version>{LOG4J_VERSION}</version></dependency>\n"
            for name in ("log4j-api", "log4j-core", "log4j-slf4j-impl"))
        pom = root / "pom.xml"
        pom.write_text(_POM.format(kafka=version, log4j=log4j, plugin=DEPENDENCY_PLUGIN_VERSION))
        command = ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                   f"-DoutputDirectory={jars}", "-DincludeScope=runtime"]
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, check=False)
        except FileNotFoundError:
            raise BrokerError("mvn is not on PATH: install Maven 3.8+ to fetch Kafka") from None
        if done.returncode != 0 or not any(jars.glob("kafka_2.13-*.jar")):
            raise BrokerError(f"mvn could not fetch Kafka {version} (exit {done.returncode}): "
                              + _mvn_error(done.stdout))
        marker.write_text(f"{version}\n")
    return jars


def _mvn_error(output: str) -> str:
    """mvn's first error message (its later lines are help boilerplate), else its last lines."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("[ERROR]") and len(line) > 8]
    return " | ".join(errors[:2] or lines[-3:]) or "no output"


def free_port(avoid: int = 0) -> int:
    """A TCP port on 127.0.0.1 that is free now (another process may still take it)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != avoid:
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _lists_topics(bootstrap: str, timeout_ms: int, log: Path) -> bool:
    """Whether a kafka-python admin client can fetch the cluster's topic list (without
    kafka-python, whether the broker has logged that it started)."""
    try:
        kafka = importlib.import_module("kafka")  # kafka-python, imported only when needed
    except ImportError:
        return "Kafka Server started" in _tail(log, 200)
    try:
        admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms,
                                       bootstrap_timeout_ms=timeout_ms)
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 16384))
            return "\n".join(file.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} is missing)"


def _live_pid(data_dir: Path) -> int | None:
    """The pid in ``data_dir/broker.pid`` if that process is alive and runs this dir's broker."""
    try:
        pid = int((data_dir / "broker.pid").read_text())
        os.kill(pid, 0)
        if Path("/proc/self").exists():  # a reused pid or a zombie has another or an empty cmdline
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if str(data_dir / "server.properties").encode() not in cmdline:
                return None
    except (OSError, ValueError):
        return None
    return pid


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


class KafkaBroker:
    """One combined KRaft node on 127.0.0.1 whose data, config and logs live in *data_dir*.

    Storage is formatted on the first start only: a later start (after :meth:`stop` or
    :meth:`kill`) keeps the topics. ``broker.pid`` and ``broker.port`` in *data_dir* let another
    process find the broker. Its log is ``broker.log`` (the previous run's: ``broker.log.1``), the
    JVM's own output ``broker.out``.
    """

    def __init__(self, data_dir: Path, port: int | None = None,
                 controller_port: int | None = None, *, version: str | None = None,
                 detached: bool = False) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self.controller_port = controller_port if controller_port is not None else free_port(self.port)
        self.version = version or kafka_version()
        self.detached = detached  # own session: outlives this process and its terminal
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> KafkaBroker:
        """Start the broker and return once clients can list topics, within *timeout* seconds
        (not counting the one-off jar download). Raises :class:`BrokerError` if it dies or is late."""
        if _live_pid(self.data_dir) is not None:
            raise BrokerError(f"a broker already runs in {self.data_dir}")
        classpath = str(ensure_jars(self.version) / "*")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config, log4j = self.data_dir / "server.properties", self.data_dir / "log4j2.properties"
        settings = {**SETTINGS, "log.dirs": str(self.data_dir / "data"),
                    "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
                    "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://127.0.0.1:{self.controller_port}",
                    "advertised.listeners": f"PLAINTEXT://{self.bootstrap}"}
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        log = self.data_dir / "broker.log"
        if log.exists():  # keep the previous run's log (a crash's story) as broker.log.1
            log.replace(self.data_dir / "broker.log.1")
        log4j.write_text(_LOG4J2.format(log=log))
        java = [_java(), *JVM_FLAGS, f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
        try:
            if not (self.data_dir / "data" / "meta.properties").exists():
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
                cluster_id = "A" + cluster_id[1:]  # as Kafka's own ids, never starting with "-"
                done = subprocess.run(
                    [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
                    stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise BrokerError(f"formatting {self.data_dir} failed: {(done.stdout + done.stderr)[-800:]}")
            with (self.data_dir / "broker.out").open("ab") as out:
                self._process = subprocess.Popen(
                    [*java, "kafka.Kafka", str(config)], stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=self.detached)
        except FileNotFoundError:
            raise BrokerError(f"{java[0]} not found: install a JDK 17+ or set JAVA_HOME") from None
        self.pid = self._process.pid
        (self.data_dir / "broker.pid").write_text(f"{self.pid}\n")
        (self.data_dir / "broker.port").write_text(f"{self.port}\n")
        deadline = time.monotonic() + timeout
        while not (_accepts(self.port) and _lists_topics(self.bootstrap, 5000, log)):
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                self.kill()
                problem = f"exited with code {code}" if code is not None else f"not ready in {timeout:g}s"
                raise BrokerError(f"Kafka broker {problem}; {self.data_dir}/broker.log ends:\n"
                                  f"{_tail(log)}\n"
                                  f"broker.out ends:\n{_tail(self.data_dir / 'broker.out', 10)}")
            time.sleep(0.25)
        return self

    @property
    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and _live_pid(self.data_dir) == self.pid

    def stop(self, timeout: float = 30) -> None:
        """Shut the broker down gracefully (SIGTERM to its own pid), SIGKILL it after *timeout* s."""
        if not self._signal(signal.SIGTERM, timeout):
            self._signal(signal.SIGKILL, 10)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; its data stays for a later :meth:`start`."""
        self._signal(signal.SIGKILL, 10)
        self._forget()

    def _signal(self, signum: signal.Signals, timeout: float) -> bool:
        """Send *signum* to this broker only; whether it exited within *timeout* seconds."""
        if self._process is not None:
            self._process.send_signal(signum)  # a no-op once the process has been reaped
            try:
                self._process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        if self.pid is None or not self.running:
            return True
        os.kill(self.pid, signum)
        deadline = time.monotonic() + timeout
        while self.running:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _forget(self) -> None:
        if self.pid is not None and not self.running:
            (self.data_dir / "broker.pid").unlink(missing_ok=True)

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


_STARTED: dict[Path, KafkaBroker] = {}  # brokers that up() started in this process


def up(home: Path, timeout: float = 90) -> str:
    """Start a detached broker with its data in ``home/kafka`` unless one runs there; its bootstrap.

    The port is the one used last time, else 9092, else any free port, whichever is free first.
    """
    data_dir = (Path(home) / "kafka").resolve()
    running = status(home)
    if running is not None:
        return running
    try:
        last = int((data_dir / "broker.port").read_text())
    except (OSError, ValueError):
        last = 0
    port = next((p for p in (last, DEFAULT_PORT) if p and _bindable(p)), None) or free_port()
    broker = _STARTED[data_dir] = KafkaBroker(data_dir, port, detached=True)
    return broker.start(timeout).bootstrap


def down(home: Path, timeout: float = 30) -> bool:
    """Stop the broker of ``home/kafka``; whether one was running."""
    data_dir = (Path(home) / "kafka").resolve()
    broker = _STARTED.pop(data_dir, None) or KafkaBroker.attach(data_dir)
    if broker is None or not broker.running:
        return False
    broker.stop(timeout)
    return True


def status(home: Path) -> str | None:
    """The bootstrap address of the broker running in ``home/kafka``, or None."""
    broker = KafkaBroker.attach(Path(home) / "kafka")
    return broker.bootstrap if broker is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.devtools.kafka_broker",
                                     description="Run a development Kafka broker in HOME/kafka.")
    parser.add_argument("verb", choices=("up", "down", "status"))
    parser.add_argument("home", nargs="?", type=Path,
                        default=Path(os.environ.get("LEDGER_HOME") or ".ledger"),
                        help="the ledger home (default: $LEDGER_HOME or ./.ledger)")
    args = parser.parse_args(argv)
    try:
        if args.verb == "up":
            print(up(args.home))
        elif args.verb == "down":
            print("stopped" if down(args.home) else "not running")
        else:
            bootstrap = status(args.home)
            print(bootstrap or "not running")
            return 0 if bootstrap else 1
    except BrokerError as error:
        print(f"kafka broker: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
