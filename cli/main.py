"""The ``ledger`` command: serve, demo, history, export/import, projections (more in cli_ops, cli_audit).

Wiring only. Each command reads ``Settings.from_env()`` (data under ``LEDGER_HOME``, default
``./.ledger``), builds what it needs, and closes it; nothing is built at import time. Every
``LedgerError`` becomes one red line on stderr and exit code 1 (usage errors exit 2); no stack trace
unless ``LEDGER_DEBUG=1``. Personal data (names, ID numbers) is printed only on request
(``history --show-personal``), and ``export`` refuses to write it to a terminal.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich import box
from rich.table import Table

from cli import audit as cli_audit
from cli import backup as cli_backup  # noqa: F401  (registers backup and restore)
from cli import ops as cli_ops  # noqa: F401  (registers their commands on the app)
from cli import retirees as cli_retirees  # noqa: F401  (registers `ledger retirees`)
from cli import sheets as cli_sheets  # noqa: F401  (registers `ledger sheets`)
from cli import witness as cli_witness  # noqa: F401  (registers `ledger witness`)
from cli import worker as cli_worker  # noqa: F401  (registers `ledger projections run`)
from cli.base import app, day, err, fail, out, progress, projections_app, stream_id
from ledger.config import Settings
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.exchange.ndjson import export_ndjson, import_ndjson, write_id_map
from ledger.files import open_private
from ledger.privacy import personal_fields, redact_event
from runtime.bootstrap import opened
from runtime.serving import DEV_MODE_VARIABLE, HTTP_APP, HTTP_PROTOCOL, check_dev_host, check_port_free

OPTIONAL_COLUMNS = ("lag by partition", "workers", "error")
WIDE = 110
WORKER_SEEN_S = 600
"""Workers heard from within this many seconds are shown by `ledger projections status`."""
FRESH_FILES = ("events.db", "views.db", "audit.db")  # the log, the views, the log's checkpoints (+ -wal, -shm)


def main() -> None:
    """Console-script entry point (``ledger``)."""
    app(prog_name="ledger")


# ---- serve, demo ----------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log: Annotated[str | None, typer.Option("--log", help="Event log: sqlite or kafka://HOST:PORT.")] = None,
    dev: Annotated[bool, typer.Option("--dev", help="Development mode.")] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /docs) with uvicorn."""
    settings = Settings.from_env(log_url=log)
    _ = settings.backend  # a bad --log fails here, before anything starts
    if dev:
        check_dev_host(host)
    check_port_free(host, port)  # one line and a hint, not uvicorn's lines after the app started
    import uvicorn

    if log is not None:
        os.environ["LEDGER_LOG"] = log
    if dev:
        os.environ[DEV_MODE_VARIABLE] = "1"
    uvicorn.run(HTTP_APP, factory=True, host=host, port=port, http=HTTP_PROTOCOL)


@app.command()
def demo(
    retirees: Annotated[int, typer.Option(min=1, max=100_000, help="About 40 per community.")] = 500,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 7,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the ledger's data in LEDGER_HOME first.")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Keep a ledger that holds data (and say so).")] = False,
    events: Annotated[int | None, typer.Option("--events", min=100, max=10_000_000,
                                               help="Instead of --retirees: about this many events of the same kind "
                                                    "of history, in large batches (benchmark logs).")] = None,
) -> None:
    """Generate synthetic Hunan data (Changsha, Zhuzhou, Changde), then catch the views up.

    On a ledger that already holds events: refused (exit 1), replaced with ``--fresh``, or kept
    unchanged with ``--keep`` (``make run``), which says so and exits 0.
    """
    from devtools.demo import generate

    settings = Settings.from_env()
    if fresh and keep:
        raise InvalidInputError("--fresh and --keep exclude each other")
    if fresh:
        _wipe(settings)
    elif keep and (held := _events_held(settings)):
        out().print(f"Kept the existing ledger in {settings.home} ({held} events); `make demo` replaces it.")
        return
    if events is not None:
        _demo_log(settings, events, seed)
        return
    started = time.perf_counter()
    with opened(settings) as services:
        ledger = services.ledger
        if ledger.head():
            raise ConflictError(f"{settings.home} already holds {ledger.head()} events; use --fresh to replace them")
        with progress("appending events") as tick:
            summary = generate(ledger, retirees=retirees, seed=seed, progress=tick)
        appended = time.perf_counter()
        with progress("catching views up") as tick:
            services.runner.catch_up(progress=tick)
        services.settle()
        head = ledger.head()
    table = Table(title=f"Demo ledger in {settings.home} (seed {seed})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (("communities", summary.communities), ("staff members", summary.staff_members),
                         ("retirees", summary.retirees), ("deaths", summary.deaths),
                         ("business events", summary.events), ("log records (with identity claims)", head),
                         ("append time (s)", f"{appended - started:.1f}"),
                         ("view catch-up time (s)", f"{time.perf_counter() - appended:.1f}")):
        table.add_row(label, str(value))
    for kind, count in summary.by_type.items():
        table.add_row(f"  {kind}", str(count))
    out().print(table)
    out().print(f"Wrote a new demo ledger in {settings.home}" + (" (the old data was deleted)." if fresh else "."))


def _demo_log(settings: Settings, events: int, seed: int) -> None:
    """``ledger demo --events N``: a long history through ``Ledger.handle_many`` in batches, views caught up."""
    from bench.rebuild import build_log

    if held := _events_held(settings):
        raise ConflictError(f"{settings.home} already holds {held} events; use --fresh to replace them")
    started = time.perf_counter()
    head = build_log(settings, events, seed=seed, report=lambda step: err().print(f"[dim]{step}[/dim]"))
    appended = time.perf_counter()
    with opened(settings) as services, progress("catching views up") as tick:
        services.runner.catch_up(progress=tick)
        services.settle()
    out().print(f"Wrote a demo ledger of {head:,} events in {settings.home} (seed {seed}): appended in "
                f"{appended - started:.1f} s, views caught up in {time.perf_counter() - appended:.1f} s.")


def _events_held(settings: Settings) -> int:
    """The head of the ledger in LEDGER_HOME (0 when it has none)."""
    if settings.backend == "sqlite" and not settings.events_path.exists():
        return 0
    with opened(settings) as services:
        return services.ledger.head()


def _wipe(settings: Settings) -> None:
    """Deletes the embedded log, its views and checkpoints in LEDGER_HOME (keys, tokens and Kafka stay)."""
    if settings.backend != "sqlite":
        raise InvalidInputError("--fresh only resets the embedded SQLite log, not a Kafka topic")
    for name in FRESH_FILES:
        for suffix in ("", "-wal", "-shm"):
            (settings.home / f"{name}{suffix}").unlink(missing_ok=True)


# ---- history --------------------------------------------------------------------------------------


@app.command()
def history(
    stream: Annotated[str, typer.Argument(metavar="ID", help="A retiree id or a community code.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Only events in effect on DATE.")] = None,
    version: Annotated[int | None, typer.Option("--version", min=1, help="Only events up to version N.")] = None,
    show_personal: Annotated[bool, typer.Option("--show-personal", help="Show names and ID numbers.")] = False,
    after_version: Annotated[int, typer.Option("--after-version", min=0, help="Only events after version N.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N events (default: all).")] = None,
) -> None:
    """Show a retiree's (or a community's) history and the state it leads to (a page of it with
    --after-version and --limit)."""
    on = day(as_of)
    if on is not None and version is not None:
        raise typer.BadParameter("use --as-of or --version, not both")
    with opened(Settings.from_env()) as services:
        ledger = services.ledger
        try:
            entries = ledger.history(stream_id(stream), version=version, as_of=on, after_version=after_version,
                                     limit=limit)
            first = ledger.history(stream_id(stream), version=1)[0]
        except NotFoundError as error:
            unknown = "version" not in error.detail
            raise NotFoundError("no retiree or community with this id" if unknown else error.detail) from None
        if first.type not in ("Enrolled", "Registered"):
            raise NotFoundError("no retiree or community with this id")
        table = Table(title=f"History of {stream}", show_lines=False)
        for column in ("seq", "v", "type", "effective", "recorded (UTC)", "by", "details"):
            table.add_column(column, overflow="fold")
        for entry in entries:
            effective = entry.business_date.isoformat() if entry.business_date else ""
            table.add_row(str(entry.seq), str(entry.version), entry.type, effective,
                          f"{entry.timestamp:%Y-%m-%d %H:%M:%S}", entry.recorded_by,
                          _details(entry.type, entry.data, show_personal))
        console = out()
        console.print(table)
        if first.type == "Enrolled":
            state = ledger.retiree(UUID(first.stream), version=version, as_of=on)
            where = state.community or f"danwei {state.danwei_code}"
            console.print(f"state{f' as of {on}' if on else ''}{f' at version {version}' if version else ''}: "
                          f"{state.stage}, {where}, pension {state.monthly_pension} CNY ({state.pension_status}), "
                          f"{len(state.services)} services, certified {len(state.certified_years)} years",
                          soft_wrap=True)
        if not show_personal and any(personal_fields(entry.type) for entry in entries):
            console.print("personal fields hidden; add --show-personal to see them", style="dim")


def _details(kind: str, data: dict[str, Any], show_personal: bool) -> str:
    shown = data if show_personal else redact_event(kind, data)
    return ", ".join(f"{k}={v}" for k, v in shown.items() if v not in ("", None))


# ---- export, import -------------------------------------------------------------------------------


@app.command()
def export(
    retiree: Annotated[str | None, typer.Option("--retiree", help="Only this retiree's events.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="A file, or - for stdout.")] = "-",
    evidence: Annotated[Path | None, typer.Option("--evidence", file_okay=False,
                                                  help="With --retiree: write an evidence bundle to DIR.")] = None,
) -> None:
    """Write the log (or one retiree's events) as NDJSON; contains personal data."""
    retiree_id = None
    if retiree is not None:
        try:
            retiree_id = UUID(retiree)
        except ValueError:
            raise typer.BadParameter("expected a retiree id (UUID)", param_hint="--retiree") from None
    if evidence is not None:
        if retiree_id is None:
            raise typer.BadParameter("--evidence needs --retiree", param_hint="--evidence")
        cli_audit.export_evidence_bundle(Settings.from_env(), retiree_id, evidence)
        return
    if output == "-" and sys.stdout.isatty():
        raise InvalidInputError("the export holds personal data: write it to a file (--output FILE) or a pipe")
    target = Path(output)
    partial = target.with_name(target.name + ".part")  # renamed to FILE once complete
    try:
        with opened(Settings.from_env()) as services:
            ledger = services.ledger
            sink: Any = nullcontext(sys.stdout.buffer) if output == "-" else open_private(partial)
            with sink as sink_out, progress("exporting") as tick:
                written = export_ndjson(ledger, sink_out, retiree_id=retiree_id, progress=tick)
                sink_out.flush()
        if output != "-":
            partial.replace(target)
    finally:
        if output != "-":
            partial.unlink(missing_ok=True)
    where = "stdout" if output == "-" else f"{target} (it holds personal data: file mode 0600)"
    err().print(f"exported {written} events to {where}", soft_wrap=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, allow_dash=True,
                                         help="NDJSON written by `ledger export` (- for stdin).")],
    id_map: Annotated[Path | None, typer.Option("--id-map", dir_okay=False,
                                                help="Where to write the old_id,new_id CSV of the retirees "
                                                     "(default: FILE.id-map.csv; import.id-map.csv for stdin).")
                      ] = None,
) -> None:
    """Append the events of an NDJSON file (a migration: new retiree ids, new seqs, author `import`);
    stops at the first bad line (earlier lines are kept). `ledger backup`/`restore` keep ids and hashes."""
    lines = sys.stdin.buffer.readlines() if str(file) == "-" else file.read_bytes().splitlines(keepends=True)
    map_path = id_map or (Path("import.id-map.csv") if str(file) == "-" else file.with_name(file.name + ".id-map.csv"))
    ids: dict[str, UUID] = {}
    try:
        with opened(Settings.from_env()) as services:
            with progress("importing") as tick:
                report = import_ndjson(services.ledger, lines, progress=tick, id_map=ids)
            services.settle()
    finally:  # the ids created before a bad line are real: keep their map too
        if ids or id_map is not None:
            written = write_id_map(map_path, ids)
            err().print(f"id map of {written} retirees (old_id,new_id) written to {map_path} (mode 0600)",
                        soft_wrap=True)
    out().print(f"imported {report.lines} lines: {report.appended} appended, {report.replayed} already present "
                 f"({report.communities} communities, {report.retirees} retirees)", soft_wrap=True)


# ---- projections ----------------------------------------------------------------------------------


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="One view (default: all).")] = None,
    jobs: Annotated[int | None, typer.Option(help="Processes folding the log: 1, 2, 4, 8 or 16 (default: the "
                                             "usable cores; the embedded log and view store only).")] = None,
) -> None:
    """Replay the whole log into fresh views and swap them in."""
    from projections.split import check_shares

    check_shares(jobs)
    settings = Settings.from_env()
    label = name or "all views"
    with opened(settings) as services, progress(f"rebuilding {label}") as tick:
        replayed = services.runner.rebuild(None if name is None else [name], progress=tick, shares=jobs)
    out().print(f"rebuilt {label} from {replayed} log records")


@projections_app.command("status")
def projections_status() -> None:
    """Each view's version, last verification, position, the log head, the lag (per topic partition on
    Kafka), the workers running it and, for a failing view, its error (exit 1)."""
    from datetime import UTC

    from projections.verify import last_checks

    settings = Settings.from_env()
    with opened(settings) as services:
        errors = services.read_side().errors  # one catch-up attempt per view, failures kept
        rows = services.runner.status()
        checks = last_checks(services.store)
        workers = services.store.workers()
    now, wide = time.time(), out().width >= WIDE  # on 80 columns the check's time gives way
    cells = []
    for row in rows:
        stale = row.stored_version not in (None, row.version)
        check = checks.get(row.name)
        partitions = ", ".join(f"{source.removeprefix('kafka:')}: {lag}" for source, lag in row.lag_by_source.items()
                               if source.startswith("kafka:"))
        cells.append({
            "name": row.name,
            "version": f"{row.version} (stored {row.stored_version})" if stale else str(row.version),
            "verified": "never" if check is None else (
                f"{check.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC " * wide + ("OK" if check.ok else "DIFFERS")),
            "position": str(row.position), "head": str(row.head), "lag": str(row.lag),
            "lag by partition": partitions,
            "workers": ", ".join(f"{worker} ({now - at:.0f} s ago)" for worker, at in workers.get(row.name, {}).items()
                                 if now - at < WORKER_SEEN_S),
            "error": errors.get(row.name, ""),
        })
    shown = [c for c in cells[0] if c not in OPTIONAL_COLUMNS or any(cell[c] for cell in cells)] if cells else []
    table = Table(title="Projections", box=box.SIMPLE_HEAD, show_edge=False)
    for column in shown:  # the columns that say something; names and numbers never wrap
        table.add_column(column, justify="right" if column in ("position", "head", "lag") else "left",
                         no_wrap=column not in OPTIONAL_COLUMNS, overflow="fold")
    for cell in cells:
        table.add_row(*(cell[c] for c in shown))
    out().print(table)
    if errors:
        fail(f"{len(errors)} failing: {', '.join(sorted(errors))}")


if __name__ == "__main__":
    main()
