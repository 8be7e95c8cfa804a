"""``POST /v1/batches``: many commands in one request, each decided as on its own endpoint.

The body is a JSON array or NDJSON of items (``api.schemas.BATCH_ITEMS``): a command tagged with its
``type`` that names its own target (``retiree_id`` — a UUID, or ``@N`` for the retiree item ``N`` of the
same batch enrolls — or ``community``), optionally with ``expected_version``. ``api.intake`` parses the
body (400/413/415 for the whole request) and every item must match its schema, else the whole batch
is a 422 ``validation-error`` whose ``errors`` name the item (``loc`` ``["body", N, type, field]``) and
nothing is appended: a malformed item is the client's bug, not a decision. Each item is then
access-checked and decided by the ledger's rules alone (``Ledger.handle_many``) and answered in
``results`` by its index with the status its own endpoint would give (201 with id, version and seq, or
a problem: 403, 404, 409, 422 ``rule/...``). A refused item saves nothing of itself and does not stop
the others; the good ones are saved in as few transactions as the rules allow
(``ledger.application.BATCH_CHUNK`` commands each). The answer is 200 whenever the batch was judged.

``Idempotency-Key`` covers the batch: item ``N`` is keyed ``<key>#N``, so repeating the request
appends nothing and answers the same ids and seqs (``replayed``), and an item that changed is 422
``idempotency-key-reused``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import IdempotencyKeyDep, WriterDep
from api.errors import problem_of
from api.intake import JSON_MEDIA_TYPE, MAX_BATCH_ITEMS, NDJSON_MEDIA_TYPE
from api.responses import problems
from api.schemas import BatchItemIn, batch_command
from ledger import commands as cmd
from ledger.errors import LedgerError

router = APIRouter(tags=["batches"])

_ITEMS: TypeAdapter[list[Any]] = TypeAdapter(list[BatchItemIn])
ITEMS_SCHEMA = _ITEMS.json_schema(ref_template="#/components/schemas/{model}")
COMPONENTS: dict[str, Any] = ITEMS_SCHEMA.pop("$defs")
"""The item schemas, added to the OpenAPI document's components (``api.openapi``)."""
ITEMS_SCHEMA["maxItems"] = MAX_BATCH_ITEMS
ITEMS_SCHEMA["minItems"] = 1


class ItemResultOut(BaseModel):
    """One item's answer: ``status`` as its own endpoint would give it; ``problem`` when it failed."""

    index: int
    status: int
    id: str | None = None
    version: int | None = None
    seq: int | None = None
    replayed: bool = False
    problem: dict[str, Any] | None = None


class BatchOut(BaseModel):
    """Counts of the items appended, replayed (appended before) and failed, and each item's answer."""

    appended: int
    replayed: int
    failed: int
    results: list[ItemResultOut]


@router.post("/batches", responses=problems(401, 403, 422), openapi_extra={"requestBody": {
    "required": True,
    "content": {JSON_MEDIA_TYPE: {"schema": ITEMS_SCHEMA},
                NDJSON_MEDIA_TYPE: {"schema": {"type": "string", "description": "one item (JSON) a line"}}},
}})
async def post_batch(
    request: Request, writer: WriterDep, idempotency_key: IdempotencyKeyDep = None,
) -> BatchOut:
    """Decides every item as its own endpoint would and saves the good ones (see the module docstring).

    Agency and community tokens; each item is checked against the caller's role and scope.
    """
    try:
        items = _ITEMS.validate_python(request.state.batch_items)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors(
            include_url=False, include_input=False)]) from None
    commands = [(batch_command(item), writer.caller.context(
        expected_version=item.expected_version,
        idempotency_key=None if idempotency_key is None else f"{idempotency_key}#{index}",
    )) for index, item in enumerate(items)]
    results = await run_in_threadpool(writer.ledger.handle_many, commands)
    return BatchOut(
        appended=sum(isinstance(r, cmd.Appended) and not r.replayed for r in results),
        replayed=sum(isinstance(r, cmd.Appended) and r.replayed for r in results),
        failed=sum(isinstance(r, LedgerError) for r in results),
        results=[_answer(index, result) for index, result in enumerate(results)],
    )


def _answer(index: int, result: cmd.Appended | LedgerError) -> ItemResultOut:
    if isinstance(result, cmd.Appended):
        return ItemResultOut(index=index, status=201, id=result.id, version=result.version, seq=result.seq,
                             replayed=result.replayed)
    status, problem = problem_of(result)
    return ItemResultOut(index=index, status=status, problem=problem)
