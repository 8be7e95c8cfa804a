"""The Kafka broker's jars, fetched from Maven Central once per version and cached outside the work tree.

Environment: ``LEDGER_KAFKA_VERSION``, ``LEDGER_CACHE_DIR`` (default ``~/.cache/social-care-ledger``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

KAFKA_VERSION = "4.1.2"
LOG4J_VERSION = "2.25.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"  # Maven 3.8.7's default (2.8) is too old

class BrokerError(RuntimeError):
    """The broker's jars could not be fetched, or the broker did not start."""


def kafka_version() -> str:
    """The Kafka version to run: ``LEDGER_KAFKA_VERSION`` or :data:`KAFKA_VERSION`."""
    return os.environ.get("LEDGER_KAFKA_VERSION") or KAFKA_VERSION


def ensure_jars(version: str | None = None) -> Path:
    """The directory holding every runtime jar of Kafka *version*; mvn fetches them only once.

    The cache (``$LEDGER_CACHE_DIR/kafka-VERSION``) is complete only once its marker file exists,
    written after mvn succeeded, so an interrupted download is redone. Concurrent callers wait
    for each other on a lock file.
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
        (root / "pom.xml").write_text(_pom(version))
        command = ["mvn", "-q", "-B", "-U", "-Dstyle.color=never", "-f", str(root / "pom.xml"),
                   "dependency:copy-dependencies", f"-DoutputDirectory={jars}",
                   "-DincludeScope=runtime"]  # -U: retry what an earlier failure cached as missing
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, check=False)
        except FileNotFoundError:
            raise BrokerError("mvn is not on PATH: install Maven 3.8+ to fetch Kafka") from None
        if done.returncode != 0 or not any(jars.glob("kafka_2.13-*.jar")):
            lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
            errors = [line[line.index("[ERROR] "):] for line in lines if "[ERROR] " in line]
            tail = errors[0].removesuffix(" -> [Help 1]") if errors else " | ".join(lines[-3:])
            raise BrokerError(f"mvn could not fetch Kafka {version} (exit {done.returncode}): "
                              f"{tail or 'no output'}")  # mvn's later [ERROR] lines are help
        marker.write_text(f"{version}\n")
    return jars


def _pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version)] + [
        ("org.apache.logging.log4j", name, LOG4J_VERSION)  # Kafka's POM brings no log backend
        for name in ("log4j-api", "log4j-core", "log4j-slf4j-impl")]
    return ('<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
            "<modelVersion>4.0.0</modelVersion><groupId>local.ledger</groupId>\n"
            f"<artifactId>kafka-jars</artifactId><version>{version}</version>\n"
            "<packaging>pom</packaging><dependencies>\n"
            + "".join(f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
                      f"<version>{v}</version></dependency>\n" for group, artifact, v in deps)
            + "</dependencies><build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>"
            "<artifactId>maven-dependency-plugin</artifactId>"
            f"<version>{DEPENDENCY_PLUGIN_VERSION}</version></plugin></plugins></build></project>\n")
