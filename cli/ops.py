"""Operations commands: the development Kafka broker, the Kafka index, and ``ledger bench``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.base import app, err, fail, index_app, kafka_app, out
from ledger.config import Settings
from ledger.errors import InvalidInputError

# ---- kafka ----------------------------------------------------------------------------------------


@contextmanager
def broker_errors() -> Iterator[None]:
    from devtools.kafka_jars import BrokerError

    try:
        yield
    except BrokerError as error:
        fail(f"kafka broker: {error}")


@kafka_app.command("up")
def kafka_up() -> None:
    """Start a single-node broker (KRaft) on 127.0.0.1 unless one runs; print its address."""
    from devtools import kafka_broker

    home = Settings.from_env().home
    with broker_errors():
        bootstrap = kafka_broker.up(home)
    out().print(f"kafka broker at {bootstrap}; use it with LEDGER_LOG=kafka://{bootstrap}", soft_wrap=True)


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the broker of LEDGER_HOME."""
    from devtools import kafka_broker

    with broker_errors():
        stopped = kafka_broker.down(Settings.from_env().home)
    out().print("stopped" if stopped else "not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Print the broker's address (exit 0), or "not running" (exit 1)."""
    from devtools import kafka_broker

    with broker_errors():
        bootstrap = kafka_broker.status(Settings.from_env().home)
    out().print(bootstrap or "not running")
    if bootstrap is None:
        raise typer.Exit(1)




@index_app.command("rebuild")
def index_rebuild(
    log: Annotated[str | None, typer.Option("--log", help="kafka://HOST:PORT (default: LEDGER_LOG).")] = None,
) -> None:
    """Rebuild the Kafka backend's local index from the topic alone (the old file is kept as .bak)."""
    from ledger.application import Ledger
    from ledger.eventlog.kafka import rebuild_index

    settings = Settings.from_env(log_url=log)
    if settings.backend != "kafka":
        raise InvalidInputError("the index exists only on the Kafka backend: set LEDGER_LOG or --log kafka://HOST:PORT")
    ledger = Ledger(settings)
    env = dict(ledger.env.items())
    ledger.close()
    count = rebuild_index(env)
    out().print(f"index rebuilt from the topic: {count} events in {settings.events_path}", soft_wrap=True)


def integrity_bench(events: int, json_file: Path | None, markdown: bool) -> None:
    """``ledger bench --integrity``: median of 5 interleaved rounds, ratio spread min to max."""
    import tempfile

    import orjson

    from bench import integrity

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as root:
        figures = [f.to_dict() for f in integrity.run(Path(root), events=events,
                                                      report=lambda step: err().print(f"[dim]{step}[/dim]"))]
    if json_file is not None:
        json_file.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    rows = [(str(f["metric"]), f"{f['ledger']:,.2f} {f['unit']}", f"{f['baseline']:,.2f} {f['unit']}",
             f"{f['ratio']:.2f} ({f['ratio_min']:.2f}-{f['ratio_max']:.2f})", str(f["baseline_is"])) for f in figures]
    if markdown:
        typer.echo("| metric | ledger | baseline | ratio (min-max) | baseline is |\n|---|---:|---:|---:|---|")
        for row in rows:
            typer.echo("| " + " | ".join(row) + " |")
        return
    table = Table(title="ledger bench --integrity (median of 5 interleaved rounds)")
    for column in ("metric", "ledger", "baseline", "ratio (min-max)", "baseline is"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    out().print(table)


@app.command("bench")
def bench(
    log: Annotated[str | None, typer.Option("--log", help="Also measure Kafka at kafka://HOST:PORT.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A short run (smaller samples, noisier).")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (for the README).")] = False,
    integrity: Annotated[bool, typer.Option("--integrity", help="Only the Merkle tree's figures (appends, "
                                            "proofs at --events events, verify), 5 interleaved rounds.")] = False,
    events: Annotated[int, typer.Option("--events", min=100, max=10_000_000,
                                        help="Log size for --integrity.")] = 100_000,
    json_file: Annotated[Path | None, typer.Option("--json", dir_okay=False, help="Also write the figures as JSON.")]
    = None,
) -> None:
    """Measure appends, rebuild and reads beside baselines taken in the same run (ratios are what count)."""
    from bench.run import Scale, run

    if integrity:
        integrity_bench(events // 5 if quick else events, json_file, markdown)
        return
    if log is not None and not log.startswith("kafka://"):
        raise InvalidInputError("--log takes kafka://HOST:PORT (SQLite is always measured)")
    scale = Scale(appends=400, http_appends=100, reads=100, retirees=20, concurrent_per_writer=5) if quick else None
    figures = run(log, scale, report=lambda step: err().print(f"[dim]measuring {step}[/dim]"))
    if markdown:
        typer.echo("| metric | ledger | baseline | ratio | baseline is |\n|---|---:|---:|---:|---|")
        for f in figures:
            typer.echo(f"| {f.metric} | {f.ledger:,.2f} {f.unit} | {f.baseline:,.2f} {f.unit} | {f.ratio:.2f} | "
                       f"{f.baseline_name} |")
        return
    table = Table(title="ledger bench (ratio = ledger / baseline, same run)")
    for column in ("metric", "ledger", "baseline", "ratio", "baseline is"):
        table.add_column(column, justify="left" if column in ("metric", "baseline is") else "right")
    for f in figures:
        table.add_row(f.metric, f"{f.ledger:,.2f} {f.unit}", f"{f.baseline:,.2f} {f.unit}", f"{f.ratio:.2f}",
                      f.baseline_name)
    out().print(table)
