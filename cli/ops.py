"""Operations commands: the development Kafka broker, the Kafka index, ``ledger bench`` and
``ledger projections verify``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.base import app, err, fail, index_app, kafka_app, out, progress, projections_app
from ledger.config import Settings, masked
from ledger.errors import InvalidInputError
from projections.verify import choose, verify
from runtime.bootstrap import opened

# ---- kafka ----------------------------------------------------------------------------------------


@contextmanager
def broker_errors() -> Iterator[None]:
    from devtools.kafka_jars import BrokerError

    try:
        yield
    except BrokerError as error:
        fail(f"kafka broker: {error}")


@kafka_app.command("up")
def kafka_up(
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=3, help="1, or 3 for a cluster with replication 3 "
                                       "and min.insync.replicas 2 (in LEDGER_HOME/kafka-cluster).")] = 1,
) -> None:
    """Start a single-node broker (KRaft) on 127.0.0.1, or a 3-node cluster, unless one runs; print its address."""
    from devtools import kafka_broker

    if nodes == 2:
        raise InvalidInputError("--nodes is 1 or 3 (two nodes cannot keep 2 in-sync replicas through a failure)")
    home = Settings.from_env().home
    with broker_errors():
        bootstrap = kafka_broker.up(home, nodes=nodes)
    replicated = " KAFKA_REPLICATION_FACTOR=3 KAFKA_MIN_INSYNC_REPLICAS=2" if nodes == 3 else ""
    out().print(f"kafka broker at {bootstrap}; use it with LEDGER_LOG=kafka://{bootstrap}{replicated}", soft_wrap=True)


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the broker (or the cluster) of LEDGER_HOME."""
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


# ---- projections verify ---------------------------------------------------------------------------


@projections_app.command("verify")
def projections_verify(
    name: Annotated[str | None, typer.Argument(help="One view (default: all).")] = None,
) -> None:
    """Replay the log into a scratch store up to each view's position and compare the rows (exit 1 if any
    differs); the result is kept for `projections status` and /health."""
    with opened(Settings.from_env()) as services:
        chosen = choose(services.runner.projections, None if name is None else [name])
        with progress(f"verifying {name or 'all views'}") as tick:
            checks = verify(services.ledger, services.store, chosen, progress=tick)
    table = Table(title="Projections verified")
    for column in ("view", "position", "rows", "result"):
        table.add_column(column, justify="right" if column in ("position", "rows") else "left", overflow="fold")
    for check in checks:
        table.add_row(check.view, str(check.position), str(check.rows), check.summary(),
                      style=None if check.ok else "red")
    out().print(table)
    differing = [check.view for check in checks if not check.ok]
    if differing:
        fail(f"{len(differing)} view(s) differ from a replay of the log: {', '.join(differing)}; "
             "rebuild with `ledger projections rebuild NAME`")


# ---- kafka index ----------------------------------------------------------------------------------


@index_app.command("rebuild")
def index_rebuild(
    log: Annotated[str | None, typer.Option("--log", help="kafka://HOST:PORT (default: LEDGER_LOG).")] = None,
) -> None:
    """Rebuild the Kafka backend's index from the topic alone (an old SQLite file is kept as .bak; a
    PostgreSQL index, LEDGER_INDEX, is emptied and read again)."""
    from ledger.application import Ledger
    from ledger.eventlog.kafka import rebuild_index

    settings = Settings.from_env(log_url=log)
    if settings.backend != "kafka":
        raise InvalidInputError("the index exists only on the Kafka backend: set LEDGER_LOG or --log kafka://HOST:PORT")
    ledger = Ledger(settings)
    env = dict(ledger.env.items())
    ledger.close()
    count = rebuild_index(env)
    where = settings.events_path if settings.index_backend == "sqlite" else masked(settings.index_url)
    out().print(f"index rebuilt from the topic: {count} events in {where}", soft_wrap=True)


def paired_bench(title: str, measure: Callable[..., list[Any]], json_file: Path | None, markdown: bool) -> None:
    """A bench of paired figures (``bench.paired.Paired``: interleaved rounds, median ratio and its
    spread min to max, the goal and whether it is met): ``measure(root, report=...)`` runs in a scratch
    folder."""
    import tempfile

    import orjson

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as root:
        figures = [f.to_dict() for f in measure(Path(root), report=lambda step: err().print(f"[dim]{step}[/dim]"))]
    if json_file is not None:
        json_file.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    columns = ("metric", "ledger", "baseline", "ratio (min-max)", "goal", "baseline is")
    rows = [(str(f["metric"]), f"{f['ledger']:,.2f} {f['unit']}", f"{f['baseline']:,.2f} {f['unit']}",
             f"{f['ratio']:.2f} ({f['ratio_min']:.2f}-{f['ratio_max']:.2f})",
             "" if f["goal"] is None else f"{f['goal']} {'met' if f['met'] else 'NOT met'}", str(f["baseline_is"]))
            for f in figures]
    if markdown:
        typer.echo("| " + " | ".join(columns) + " |\n|---|---:|---:|---:|---|---|")
        for row in rows:
            typer.echo("| " + " | ".join(row) + " |")
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    out().print(table)


@app.command("bench")
def bench(
    log: Annotated[str | None, typer.Option("--log", help="Also measure Kafka at kafka://HOST:PORT.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller samples (noisier), under 5 minutes.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (for the README).")] = False,
    integrity: Annotated[bool, typer.Option("--integrity", help="Only the Merkle tree's figures (appends, "
                                            "proofs at --events events, verify), 5 interleaved rounds.")] = False,
    events: Annotated[int | None, typer.Option("--events", min=100, max=10_000_000,
                                               help="Log size for rebuild and verify (default 1,000,000; "
                                                    "50,000 with --quick; 100,000 for --integrity).")] = None,
    bulk: Annotated[bool, typer.Option("--bulk", help="Only the annual adjustment of --retirees retirees: "
                                       "POST /v1/batches vs in-process, 3 interleaved rounds.")] = False,
    retirees: Annotated[int, typer.Option("--retirees", min=10, max=100_000, help="City size for --bulk.")]
    = 100_000,
    json_file: Annotated[Path | None, typer.Option("--json", dir_okay=False, help="Also write the figures as JSON.")]
    = None,
    scale_out: Annotated[bool, typer.Option("--scale", help="Only issue 10's figures: rebuild into PostgreSQL vs "
                                            "SQLite, 1/2/4 projection workers on a 4-partition topic, reader API "
                                            "on the PostgreSQL index vs the writer's (5 interleaved rounds; "
                                            "--log, else a broker is started; --events, default 50,000).")] = False,
    postgres: Annotated[str | None, typer.Option("--postgres", help="With --scale: a PostgreSQL server whose user "
                                                 "may create databases (default: a throwaway cluster).")] = None,
) -> None:
    """Measure every goal figure beside its ceiling, interleaved in the same run (ratios are what count)."""
    from dataclasses import replace

    if integrity:
        from bench import integrity as paired

        size = events or (20_000 if quick else 100_000)
        paired_bench("ledger bench --integrity (median of 5 interleaved rounds)",
                     lambda root, report: paired.run(root, events=size, report=report), json_file, markdown)
        return
    if bulk:
        from bench import bulk as paired_bulk
        from bench.run import GOALS

        city = min(retirees, 10_000) if quick else retirees
        paired_bench(f"ledger bench --bulk ({city:,} retirees, median of 3 interleaved rounds)",
                     lambda root, report: [f.with_goal(GOALS["bulk"])
                                           for f in paired_bulk.run(root, retirees=city, report=report)],
                     json_file, markdown)
        return
    if log is not None and not log.startswith("kafka://"):
        raise InvalidInputError("--log takes kafka://HOST:PORT (SQLite is always measured)")
    if scale_out:
        from bench import scale as paired_scale

        size = events or (5_000 if quick else 50_000)
        paired_bench(f"ledger bench --scale ({size:,} events, median of 5 interleaved rounds)",
                     lambda root, report: paired_scale.figures(root, log, postgres, events=size, report=report),
                     json_file, markdown)
        return
    from bench.run import QUICK, Scale, run

    scale = QUICK if quick else Scale()
    if events is not None:
        scale = replace(scale, events=events)
    paired_bench(f"ledger bench (median of {scale.rounds} interleaved rounds; ratio = ledger / baseline)",
                 lambda root, report: run(root, log, scale, report=report), json_file, markdown)
