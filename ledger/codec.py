"""Serialization of events and snapshots with orjson.

Values that JSON cannot tell apart from strings are tagged with a one-key object:
``{"$d": "2024-05-01"}`` (date), ``{"$dt": ISO-8601}`` (datetime), ``{"$n": "2500.00"}``
(Decimal, exact), ``{"$u": hex}`` (UUID). Lists stay lists; tuples and sets are not used in
event or aggregate state. Keys are sorted so equal states give equal bytes (the hash chain
hashes the stored bytes).

Schema evolution: event classes carry ``class_version``; the library's mapper calls
``upcast_vN_vN+1(state)`` on old shapes before building the event (see ``ledger/domain``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    kind = type(value)
    if kind is Decimal:
        return {"$n": str(value)}
    if kind is datetime:
        return {"$dt": value.isoformat()}
    if kind is date:
        return {"$d": value.isoformat()}
    raise TypeError(f"cannot encode {kind.__name__}")


def _tag_uuids(value: Any) -> Any:
    """orjson writes UUIDs natively as strings; tag them first so they come back as UUIDs."""
    kind = type(value)
    if kind is UUID:
        return {"$u": value.hex}
    if kind is dict:
        return {k: _tag_uuids(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_tag_uuids(v) for v in value]
    return value


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$d": date.fromisoformat,
    "$dt": datetime.fromisoformat,
    "$n": Decimal,
    "$u": UUID,
}


def _untag(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        if len(value) == 1:
            ((key, inner),) = value.items()
            decoder = _DECODERS.get(key)
            if decoder is not None:
                return decoder(inner)
        return {k: _untag(v) for k, v in value.items()}
    if kind is list:
        return [_untag(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    return orjson.dumps(_tag_uuids(value), default=_default, option=_OPTIONS)


def loads(data: bytes) -> Any:
    return _untag(orjson.loads(data))


class OrjsonTranscoder(Transcoder):
    """The ``eventsourcing`` transcoder used by the ledger (replaces the stdlib JSON one)."""

    def encode(self, obj: Any) -> bytes:
        return dumps(obj)

    def decode(self, data: bytes) -> Any:
        return loads(data)


def to_plain(value: Any) -> Any:
    """JSON-ready form for responses and exports (ISO dates, Decimal as string, UUID as str)."""
    kind = type(value)
    if kind is dict:
        return {k: to_plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_plain(v) for v in value]
    if kind is Decimal:
        return str(value)
    if kind in (date, datetime):
        return value.isoformat()
    if kind is UUID:
        return str(value)
    return value
