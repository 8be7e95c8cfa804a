"""The one write path of the API: a command plus the caller's context into ``Ledger.handle``.

Idempotency: a request repeated with the same ``Idempotency-Key`` (scoped to the principal)
appends nothing and answers like the first time (201, the same body) with the extra header
``Idempotent-Replayed: true``. A key that first answered a request of another kind or for another
stream is refused with 422 ``idempotency-key-reused``. Replays skip ``expected_version``.

Concurrency: with ``expected_version`` a stale stream is a 409 and nothing is written. Without
it, ``Ledger.handle`` itself decides again on the new state after a lost race, so callers who did
not ask for a check do not see conflicts they could not have avoided.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import Response

from api.auth import Caller
from api.errors import IdempotencyKeyReusedError
from api.responses import AppendedOut
from ledger import commands as cmd
from ledger.application import Ledger, event_type

REPLAYED_HEADER = "Idempotent-Replayed"


def append(
    ledger: Ledger,
    command: cmd.Command,
    *,
    caller: Caller,
    expected_version: int | None,
    idempotency_key: str | None,
    response: Response,
    stream: UUID | None = None,
) -> AppendedOut:
    """Appends (or replays) ``command`` as ``caller``; ``stream`` is the target stream id when the URL names one.

    ``Ledger.handle`` checks the caller's role and scope (AccessDeniedError, nothing appended) and
    records ``caller.name`` as ``recorded_by``.
    """
    context = caller.context(expected_version=expected_version, idempotency_key=idempotency_key)
    appended = ledger.handle(command, context)
    if appended.replayed:
        _check_same_request(ledger, command, appended, stream)
        response.headers[REPLAYED_HEADER] = "true"
    return AppendedOut(id=appended.id, version=appended.version, seq=appended.seq)


def _check_same_request(ledger: Ledger, command: cmd.Command, appended: cmd.Appended, stream: UUID | None) -> None:
    records = ledger.read_log(after=appended.seq - 1, limit=1)
    if records:
        first = records[0]
        same_kind = event_type(ledger.mapper.to_domain_event(first)) == cmd.EVENT_OF_COMMAND[type(command)]
        if same_kind and (stream is None or str(first.originator_id) == str(stream)):
            return
    raise IdempotencyKeyReusedError("this Idempotency-Key was already used for a different request")
