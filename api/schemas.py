"""Request models of the HTTP API, derived from the command declarations (``ledger.commands``).

Nothing here restates a field or a limit: each request body is built from its command class
(same fields, same types from ``ledger.fields``, same defaults), minus the field the URL path
names (``retiree_id``, ``community``), plus an optional ``expected_version`` and, for event bodies,
the ``type`` tag (the event in snake case) of a discriminated union. Bodies are closed (unknown
fields are refused) and every field type is strict (a JSON ``2.0`` is the integer 2, as in JSON Schema).
Path ids are UUIDs in canonical form only (``CanonicalUuid``). Whether a date lies in the future is the
ledger's rule, judged against its clock (422 ``rule/date_in_future``). Responses are in
``api.responses``.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union, cast, get_type_hints
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model

from ledger import commands as cmd
from ledger.fields import CODE_PATTERN, Day, IdNumber, Whole

__all__ = [
    "BATCH_ITEMS",
    "BODIES",
    "CODE_PATTERN",
    "AgencyEventIn",
    "BatchItemIn",
    "Body",
    "CanonicalUuid",
    "CommunityEventIn",
    "EnrollIn",
    "IsoDate",
    "LookupIn",
    "RegisterCommunityIn",
    "RetireeEventIn",
]

IsoDate = Day
ExpectedVersion = Annotated[int | None, Field(strict=True, ge=0, le=10**9), Whole]
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_CANONICAL_UUID = re.compile(UUID_PATTERN)


def _canonical(value: object) -> object:
    if isinstance(value, str) and not _CANONICAL_UUID.fullmatch(value):
        raise ValueError("ids are UUIDs in canonical form: 36 characters, lower-case hex digits and dashes")
    return value


CanonicalUuid = Annotated[
    UUID, BeforeValidator(_canonical),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": UUID_PATTERN, "minLength": 36, "maxLength": 36}),
]
"""A UUID as the API writes it (``str(uuid)``); braces, ``urn:uuid:``, upper case or no dashes are a 422."""


class Body(BaseModel):
    """Base of every request body: closed, enum values stored as plain strings."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    command: ClassVar[type[Any]]
    expected_version: ExpectedVersion = None

    def to_command(self, **target: Any) -> cmd.Command:
        """The ledger command for this body; ``target`` names the stream (from the URL path)."""
        values = self.model_dump(exclude={"type", "expected_version"})
        return cast(cmd.Command, self.command(**values, **target))


def body_of(kind: type, name: str, tagged: bool, targets: dict[str, Any] | None = None) -> type[Body]:
    """The request model of the command ``kind`` (see the module docstring); with ``targets`` (a batch
    item) the target field is kept, of the type ``targets`` gives for it (else its own)."""
    declared = cmd.spec(kind)
    hints = get_type_hints(kind, include_extras=True)
    defined: dict[str, Any] = {"type": (Literal[cmd.tag(declared.event)], ...)} if tagged else {}
    for item in fields(kind):
        if item.name == declared.target and targets is not None:
            defined[item.name] = (targets.get(item.name, hints[item.name]), ...)
        elif item.name != declared.target:
            defined[item.name] = (hints[item.name], ... if item.default is MISSING else item.default)
    model = create_model(name, __base__=Body, __doc__=f"Records ``{declared.event}`` ({declared.role}s).",
                         __module__=__name__, **defined)
    model.command = kind
    return model


BODIES: dict[type, type[Body]] = {
    kind: body_of(kind, f"{cmd.spec(kind).event}In" if cmd.spec(kind).target else f"{kind.__name__}In",
                  tagged=cmd.spec(kind).target is not None)
    for kind in cmd.COMMANDS
}
"""Every command's request model; event bodies (commands with a target) carry a ``type`` tag."""
globals().update({model.__name__: model for model in BODIES.values()})



BATCH_REF_PATTERN = r"^@(0|[1-9][0-9]{0,4})$"
BatchRef = Annotated[str, Field(pattern=BATCH_REF_PATTERN, description="``@N``: the retiree enrolled by item N")]
BATCH_ITEMS: dict[type, type[Body]] = {
    kind: body_of(kind, f"{cmd.spec(kind).event}Item", tagged=True,
                  targets={"retiree_id": CanonicalUuid | BatchRef})
    for kind in cmd.COMMANDS
}
"""Every command as an item of ``POST /v1/batches``: tagged with ``type`` and naming its own target
(``retiree_id``, a UUID or ``@N`` for the retiree item N of the same batch enrolls; ``community``)."""


def batch_command(item: Body) -> cmd.Command:
    """The ledger command of a batch item (``@N`` becomes ``cmd.Ref(N)``)."""
    values = item.model_dump(exclude={"type", "expected_version"})
    target = values.get("retiree_id")
    if isinstance(target, str):
        values["retiree_id"] = cmd.Ref(int(target[1:]))
    return cast(cmd.Command, item.command(**values))


def _union(target: str) -> Any:
    models = tuple(model for kind, model in BODIES.items() if cmd.spec(kind).target == target)
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007  (a union built at run time)


if TYPE_CHECKING:
    EnrollIn: TypeAlias = Body
    RegisterCommunityIn: TypeAlias = Body
    RetireeEventIn: TypeAlias = Body
    CommunityEventIn: TypeAlias = Body
    AgencyEventIn: TypeAlias = Body
    BatchItemIn: TypeAlias = Body
else:
    EnrollIn = BODIES[cmd.Enroll]
    RegisterCommunityIn = BODIES[cmd.RegisterCommunity]
    RetireeEventIn = _union("retiree_id")
    CommunityEventIn = _union("community")
    AgencyEventIn = _union("area")
    BatchItemIn = Annotated[Union[tuple(BATCH_ITEMS.values())], Field(discriminator="type")]  # noqa: UP007


class LookupIn(BaseModel):
    """``POST /v1/retirees/lookup``: the ID number travels in the body, never in a URL (URLs are logged)."""

    model_config = ConfigDict(extra="forbid")

    id_number: IdNumber
