"""The one write path of the API: a command plus the caller's context into ``Ledger.handle``.

Idempotency: a request repeated with the same ``Idempotency-Key`` (scoped to the principal)
appends nothing and answers like the first time (201, the same body) with the extra header
``Idempotent-Replayed: true``. A key reused for another request (another kind of event, another
stream, or another body: the ledger keeps the first request's fingerprint with the key) is refused
with 422 ``idempotency-key-reused`` and nothing is appended.

Concurrency: with ``expected_version`` a stale stream is a 409 and nothing is written. Without
it, ``Ledger.handle`` itself decides again on the new state after a lost race, so callers who did
not ask for a check do not see conflicts they could not have avoided.

The append routes are ``async`` and call :func:`append`, which makes ONE hop to the thread pool for
``Ledger.handle`` and answers the ``AppendedOut`` JSON itself (the routes declare it as their
``response_model`` for OpenAPI). A sync route would hop there twice (the route, then FastAPI's check of
its answer against the response model).
"""

from __future__ import annotations

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from api.deps import Writer
from api.responses import AppendedOut
from ledger import commands as cmd

REPLAYED_HEADER = "Idempotent-Replayed"
JSON_MEDIA_TYPE = "application/json"


async def append(
    writer: Writer,
    command: cmd.Command,
    *,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Response:
    """Appends (or replays) ``command`` as ``writer.caller``; 201 with ``AppendedOut``.

    ``Ledger.handle`` checks the caller's role and scope (AccessDeniedError, nothing appended) and
    records ``caller.name`` as ``recorded_by``.
    """
    context = writer.caller.context(expected_version=expected_version, idempotency_key=idempotency_key)
    appended = await run_in_threadpool(writer.ledger.handle, command, context)
    body = AppendedOut(id=appended.id, version=appended.version, seq=appended.seq).model_dump_json()
    return Response(body, status_code=201, media_type=JSON_MEDIA_TYPE,
                    headers={REPLAYED_HEADER: "true"} if appended.replayed else None)
