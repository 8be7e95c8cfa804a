"""The baseline: the ``eventsourcing`` library's plain SQLite application, measured beside the ledger.

A minimal aggregate with one event, the library's own SQLite recorder, AES-GCM encryption of every
stored state (the library's ``AESCipher``) and the same orjson transcoder as the ledger, so the
ceiling pays for what the ledger must pay (encryption, serialisation) and nothing else: no hash
chain, no tree, no rules, no projections. A minimal FastAPI app around it gives the HTTP figure.
Snapshots every 50 events, as the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Transcoder
from fastapi import FastAPI

from ledger.codec import OrjsonTranscoder


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[str] = []

    @event("Recorded")
    def record(self, item: str, minutes: int) -> None:
        self.items.append(item)


class PlainApp(Application[UUID]):
    snapshotting_intervals = {Counter: 50}

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def start(self, name: str) -> UUID:
        counter = Counter(name)
        self.save(counter)
        return counter.id

    def record(self, counter_id: UUID, item: str) -> int:
        counter: Counter = self.repository.get(counter_id)
        counter.record(item, 30)
        recordings = self.save(counter)
        return recordings[-1].notification.id

    def history(self, counter_id: UUID) -> list[Any]:
        return list(self.events.get(counter_id))

    def replay(self) -> int:
        """Reads and decodes the whole log in order (what a projection rebuild does), folding a count."""
        counts: dict[str, int] = {}
        start = 1
        while True:
            notifications = self.recorder.select_notifications(start, 500)
            if not notifications:
                return sum(counts.values())
            for notification in notifications:
                decoded = self.mapper.to_domain_event(notification)
                name = type(decoded).__name__
                counts[name] = counts.get(name, 0) + 1
            start = notifications[-1].id + 1


def plain_app(path: Path) -> PlainApp:
    return PlainApp(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
                         "AGGREGATE_CACHE_MAXSIZE": "10000",  # at its best: as the ledger, no reload per append
                         "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
                         "CIPHER_KEY": AESCipher.create_key(num_bytes=32)})


def plain_http(app: PlainApp) -> FastAPI:
    api = FastAPI()

    @api.post("/counters/{counter_id}", status_code=201)
    def record(counter_id: UUID, body: dict[str, Any]) -> dict[str, int]:
        return {"seq": app.record(counter_id, str(body.get("item", "")))}

    return api
