"""The README's table of event types and their fields, generated from the command declarations.

``python -m devtools.readme`` rewrites the table between the ``<!-- event-fields -->`` markers of
README.md; ``--check`` exits 1 when the README's table differs from the declarations (the test suite
checks it too), so the README never lists a field the API does not take, or misses one.
"""

from __future__ import annotations

import sys
from dataclasses import MISSING, fields
from pathlib import Path

from ledger import commands

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- event-fields -->", "<!-- /event-fields -->"
_ROUTE = {None: "new stream", "community": "`/v1/communities/{code}/events`", "area": "`/v1/agencies/{area}/events`",
          "retiree_id": "`/v1/retirees/{id}/events`"}
_NEW = {"registered": "`POST /v1/communities`", "enrolled": "`POST /v1/retirees`"}


def table() -> str:
    """One line per command: its ``type``, where it is posted, the role that may, its fields (``?``: optional)."""
    lines = ["| `type` | posted to | role | fields (`?` optional) |", "|---|---|---|---|"]
    for kind, spec in commands.COMMANDS.items():
        name = commands.tag(spec.event)
        shown = [f.name + ("" if f.default is MISSING and f.default_factory is MISSING else "?")
                 for f in fields(kind) if f.name != spec.target]
        lines.append(f"| `{name}` | {_NEW.get(name, _ROUTE[spec.target])} | {spec.role} | {', '.join(shown)} |")
    return "\n".join(lines)


def rewritten(text: str) -> str:
    """``text`` with the table between the markers replaced by the generated one."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README.md has no {START} ... {END} block")
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = rewritten(text)
    if "--check" in argv:
        if new != text:
            print("README.md's event table differs from ledger/commands.py: run python -m devtools.readme")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
