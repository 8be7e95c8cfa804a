"""``ledger retirees list|find``: the retiree directory and lookup by ID number, for the operator.

The CLI is the local operator: it reads every retiree (no scope), as the other commands do. ``list``
reads the ``directory`` view once caught up with the log (no names, no ID numbers). ``find`` reads the
ID number from a hidden prompt, or one line of standard input when that is not a terminal, never from
the command line (argv is visible to every user of the machine and kept in shell histories).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich import box
from rich.table import Table

from cli.base import app, err, fail, out
from ledger.config import Settings
from ledger.domain.values import PensionStatus, Stage
from ledger.errors import NotFoundError
from ledger.fields import IdNumber
from projections import directory
from runtime.bootstrap import opened

retirees_app = typer.Typer(no_args_is_help=True, help="Find retirees: the directory, lookup by ID number.")
app.add_typer(retirees_app, name="retirees")

COLUMNS = ("retiree_id", "city", "district", "community", "stage", "pension_status", "enrolled")
WIDE = 110
"""Below this many columns the list leaves out city and district."""
HEADINGS = ("retiree id", "city", "district", "community", "stage", "pension", "enrolled")


@retirees_app.command("list")
def retirees_list(
    city: Annotated[str | None, typer.Option(help="The retiree's city (exact).")] = None,
    community: Annotated[str | None, typer.Option(help="The managing community now (its code).")] = None,
    stage: Annotated[Stage | None, typer.Option(help="danwei, community or deceased.")] = None,
    pension_status: Annotated[PensionStatus | None, typer.Option(help="active, suspended or ended.")] = None,
    after: Annotated[str | None, typer.Option(help="Start after this retiree id (the 'next' of a page).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many retirees.")] = 100,
) -> None:
    """List retirees from the directory, sorted by id: city, district, community, stage, pension status,
    retirement date (no names or ID numbers)."""
    wanted = {"city": city, "community": community, "stage": stage.value if stage else None,
              "pension_status": pension_status.value if pension_status else None}
    with opened(Settings.from_env()) as services:
        services.runner.catch_up()
        found = directory.page(services.store, wanted, after=after, limit=limit)
    console = out()
    shown = [i for i, column in enumerate(COLUMNS) if console.width >= WIDE or column not in ("city", "district")]
    table = Table(title=f"Retirees ({len(found.rows)})", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    for i in shown:  # ids and dates whole: on 80 columns city and district give way (the community code has both)
        table.add_column(HEADINGS[i], no_wrap=True)
    for row in found.rows:
        table.add_row(*(str(row[COLUMNS[i]] or "") for i in shown))
    console.print(table)
    if found.next is not None:
        err().print(f"more follow: --after {found.next}", soft_wrap=True)


def _read_id_number() -> str:
    if sys.stdin.isatty():
        text: str = typer.prompt("ID number", hide_input=True)
        return text
    return sys.stdin.readline()


@retirees_app.command("find")
def retirees_find() -> None:
    """Print the retiree id of an ID number, read from a hidden prompt or standard input (never an argument),
    looked up through the keyed hash."""
    text = _read_id_number().strip()
    if not text:
        fail("error: no ID number given (type it at the prompt or pipe it on standard input)")
    try:
        number = TypeAdapter(IdNumber).validate_python(text)
    except ValidationError as error:  # the messages never quote the number
        fail(f"error: not a valid ID number: {error.errors()[0]['msg']}")
        return
    with opened(Settings.from_env()) as services:
        retiree_id = services.ledger.find_retiree(number)
    if retiree_id is None:
        raise NotFoundError("no retiree with this ID number")
    out().print(str(retiree_id))
