"""Typed settings, read once at the edge (CLI, ``create_app``) and passed down.

Nothing here touches the disk at import time; ``Settings.from_env()`` only reads variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ledger.errors import InvalidInputError

DEFAULT_HOME = ".ledger"
POSTGRES_SCHEMES = ("postgresql", "postgres")
KAFKA_TUNING = frozenset({
    "KAFKA_GROUP_COMMIT", "KAFKA_BATCH_MAX", "KAFKA_BATCH_MAX_BYTES", "KAFKA_BATCH_WAIT_MS", "KAFKA_WRITE_TIMEOUT_S",
    "KAFKA_CLIENT_TIMEOUT_MS", "KAFKA_PARTITIONS", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS",
})


@dataclass(frozen=True)
class Settings:
    """Where the ledger keeps its data and which event log it writes to.

    ``log_url`` is ``sqlite`` (the default: ``HOME/events.db``) or ``kafka://HOST:PORT``.
    ``views_url`` (``LEDGER_VIEWS``) is ``sqlite`` (the default: ``HOME/views.db``) or a PostgreSQL URL
    (``postgresql://USER:PASSWORD@HOST:PORT/DB``); it may hold a password, so it is left out of ``repr``
    (``views_location`` shows it without one).
    ``index_url`` (``LEDGER_INDEX``, Kafka log only) is ``sqlite`` (``HOME/kafka-index.db``) or a PostgreSQL
    URL: the index of the topic that every API process reads histories and state from.
    ``writer_url`` (``LEDGER_WRITER``) set makes this process a reader: it serves reads and refuses
    appends with a 503 that names the writer at that URL (the one process that appends; see the README's
    deployment). ``follow`` (``LEDGER_FOLLOW``, default on) runs the views in the API process; off, the
    API only reads them and projection workers (``ledger projections run``) keep them current.
    """

    home: Path = field(default_factory=lambda: Path(DEFAULT_HOME))
    log_url: str = "sqlite"
    snapshot_interval: int = 50
    kafka_topic: str = "ledger.events"
    ledger_name: str = "ledger"
    keys_dir: Path | None = None
    encrypt: bool = True
    checkpoint_every: int = 1000
    kafka_options: tuple[tuple[str, str], ...] = ()
    aggregate_cache: int = 10_000
    history_cache: int = 50_000
    """Decoded history entries kept in memory (LRU over streams, bounded by the total; 0: none)."""
    views_url: str = field(default="sqlite", repr=False)
    index_url: str = field(default="sqlite", repr=False)
    writer_url: str | None = None
    follow: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Builds settings from ``LEDGER_*`` variables; explicit overrides win."""
        env = os.environ if env is None else env
        settings = cls(
            home=Path(env.get("LEDGER_HOME", DEFAULT_HOME)),
            log_url=env.get("LEDGER_LOG", "sqlite"),
            snapshot_interval=_int(env.get("LEDGER_SNAPSHOT_INTERVAL", "50"), "LEDGER_SNAPSHOT_INTERVAL"),
            kafka_topic=env.get("LEDGER_KAFKA_TOPIC", "ledger.events"),
            ledger_name=env.get("LEDGER_NAME", "ledger"),
            keys_dir=Path(env["LEDGER_KEYS_DIR"]) if env.get("LEDGER_KEYS_DIR") else None,
            encrypt=env.get("LEDGER_ENCRYPT", "1").lower() not in ("0", "false", "no", "off"),
            checkpoint_every=_int(env.get("LEDGER_CHECKPOINT_EVERY", "1000"), "LEDGER_CHECKPOINT_EVERY"),
            kafka_options=tuple(sorted((k, v) for k, v in env.items() if k in KAFKA_TUNING)),
            aggregate_cache=_int(env.get("LEDGER_AGGREGATE_CACHE", "10000"), "LEDGER_AGGREGATE_CACHE", minimum=0),
            history_cache=_int(env.get("LEDGER_HISTORY_CACHE", "50000"), "LEDGER_HISTORY_CACHE", minimum=0),
            views_url=env.get("LEDGER_VIEWS", "sqlite"),
            index_url=env.get("LEDGER_INDEX", "sqlite"),
            writer_url=env.get("LEDGER_WRITER") or None,
            follow=env.get("LEDGER_FOLLOW", "1").lower() not in ("0", "false", "no", "off"),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean)  # type: ignore[arg-type]

    @property
    def events_path(self) -> Path:
        """The SQLite event log (embedded default) or the Kafka index beside it."""
        return self.home / ("events.db" if self.backend == "sqlite" else "kafka-index.db")

    @property
    def views_path(self) -> Path:
        return self.home / "views.db"

    @property
    def views_backend(self) -> str:
        """``sqlite`` or ``postgresql`` (``LEDGER_VIEWS``)."""
        return _store_backend(self.views_url, "view store", "LEDGER_VIEWS")

    @property
    def views_location(self) -> str:
        """Where the views are, fit to show: the SQLite file, or the URL with any password masked."""
        return str(self.views_path) if self.views_url == "sqlite" else masked(self.views_url)

    @property
    def index_backend(self) -> str:
        """``sqlite`` or ``postgresql`` (``LEDGER_INDEX``)."""
        return _store_backend(self.index_url, "Kafka index", "LEDGER_INDEX")

    @property
    def keys_path(self) -> Path:
        """Secret keys live OUTSIDE the data folder: ``LEDGER_KEYS_DIR`` or ``HOME-keys`` beside it."""
        return self.keys_dir if self.keys_dir is not None else self.home.parent / f"{self.home.name}-keys"

    @property
    def data_key_path(self) -> Path:
        """AES-256-GCM key for event and snapshot state (``LEDGER_DATA_KEY`` overrides it)."""
        return self.keys_path / "data.key"

    @property
    def writer_key_path(self) -> Path:
        """HMAC key of the Kafka writer: records without its MAC are refused at catch-up."""
        return self.keys_path / "writer.key"

    @property
    def lookup_key_path(self) -> Path:
        return self.keys_path / "lookup.key"

    @property
    def backend(self) -> str:
        if self.log_url == "sqlite":
            return "sqlite"
        if self.log_url.startswith("kafka://") and len(self.log_url) > len("kafka://"):
            return "kafka"
        raise InvalidInputError(f"unsupported event log {self.log_url!r}: use 'sqlite' or 'kafka://HOST:PORT'")

    @property
    def kafka_bootstrap(self) -> str:
        return self.log_url.removeprefix("kafka://")


def _store_backend(url: str, what: str, variable: str) -> str:
    if url == "sqlite":
        return "sqlite"
    scheme, _, rest = url.partition("://")
    if scheme in POSTGRES_SCHEMES and rest:
        return "postgresql"
    given = f"a {scheme}:// URL" if rest and scheme.isalnum() else "something else"  # never the value itself
    raise InvalidInputError(f"unsupported {what} ({variable} is {given}): use 'sqlite' or "
                            "'postgresql://USER:PASSWORD@HOST:PORT/DB'")


def masked(url: str) -> str:
    """A database URL fit to show: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}")
    if "password" in parts.query.lower():
        parts = parts._replace(query="***")
    return urlunsplit(parts)


def _int(raw: str, name: str, minimum: int = 1) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}, got {value}")
    return value
