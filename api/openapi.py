"""The OpenAPI document, stating what the server enforces and nothing it does not.

FastAPI renders the routes; ``stated`` corrects what it renders in general terms, once, for every
route (``LedgerAPI.openapi`` in ``api.main`` applies it):

- every operation may answer 400 (a ``Content-Length`` that cannot be framed) and 414 (``api.main``);
  an operation with a JSON body also answers 413 and 415 (``api.intake``);
- the schemas of ``POST /v1/batches`` items are components (its body is read by the route itself);
- error responses are ``application/problem+json`` only (FastAPI adds the route's own media type);
- an optional query, header or path parameter is left out, never sent as ``null``: its schema has
  no ``null`` branch (the text ``null`` is no integer, date or code).

The limits themselves are stated where they are declared (``ledger.fields``, ``api.schemas``, the
routers' ``Query``/``Header``/``Path``). What no JSON Schema can say is said in prose: the ID number's
check character and its birth date (``ledger.fields.IdNumber``), a date not after the ledger's today,
and the domain rules (422 ``rule/...``).
"""

from __future__ import annotations

from typing import Any

from api.errors import PROBLEM_MEDIA_TYPE
from api.intake import BODY_STATUSES
from api.responses import problems
from api.routers import batches

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(branches):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf" and (key, value) != ("default", None)}
    return {**kept[0], **rest}


def stated(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` corrected in place as the module docstring says; returned for convenience."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in batches.COMPONENTS.items():  # the batch items' schemas (an explicit requestBody)
        schemas.setdefault(name, schema)
    body_problems = problems(*BODY_STATUSES)
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for parameter in operation.get("parameters", []):
                if "schema" in parameter:
                    parameter["schema"] = _without_null(parameter["schema"])
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, response in body_problems.items():
                    entry = {key: value for key, value in response.items() if key != "model"}
                    responses.setdefault(str(status), entry)
            for status, response in responses.items():
                content = response.get("content", {})
                if str(status)[0] in "45" and PROBLEM_MEDIA_TYPE in content:
                    response["content"] = {PROBLEM_MEDIA_TYPE: content[PROBLEM_MEDIA_TYPE]}
    return document
