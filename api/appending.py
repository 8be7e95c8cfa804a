"""The one write path of the API: a command plus the caller's context into ``Ledger.handle``.

Idempotency: a request repeated with the same ``Idempotency-Key`` (scoped to the principal)
appends nothing and answers like the first time (201, the same body) with the extra header
``Idempotent-Replayed: true``. A key reused for another request (another kind of event, another
stream, or another body: the ledger keeps the first request's fingerprint with the key) is refused
with 422 ``idempotency-key-reused`` and nothing is appended.

Concurrency: with ``expected_version`` a stale stream is a 409 and nothing is written. Without
it, ``Ledger.handle`` itself decides again on the new state after a lost race, so callers who did
not ask for a check do not see conflicts they could not have avoided.
"""

from __future__ import annotations

from fastapi import Response

from api.auth import Caller
from api.responses import AppendedOut
from ledger import commands as cmd
from ledger.application import Ledger

REPLAYED_HEADER = "Idempotent-Replayed"


def append(
    ledger: Ledger,
    command: cmd.Command,
    *,
    caller: Caller,
    expected_version: int | None,
    idempotency_key: str | None,
    response: Response,
) -> AppendedOut:
    """Appends (or replays) ``command`` as ``caller``.

    ``Ledger.handle`` checks the caller's role and scope (AccessDeniedError, nothing appended) and
    records ``caller.name`` as ``recorded_by``.
    """
    context = caller.context(expected_version=expected_version, idempotency_key=idempotency_key)
    appended = ledger.handle(command, context)
    if appended.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return AppendedOut(id=appended.id, version=appended.version, seq=appended.seq)
