"""The ``ledger`` command, driven through typer's CliRunner against real ledgers in temporary homes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from ledger.application import Ledger
from ledger.config import Settings

runner = CliRunner()


def ledger_cli(home: Path, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"LEDGER_HOME": str(home), "COLUMNS": "200", "LEDGER_LOG": "sqlite"})


def _read(home: Path) -> tuple[int, dict[str, list[tuple[str, dict[str, Any]]]], list[str]]:
    """The head, every stream's (type, data) list keyed by its first event id, and the retiree ids."""
    ledger = Ledger(Settings(home=home))
    try:
        streams: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        first: dict[str, str] = {}
        retirees = []
        for record in ledger.iter_log():
            entry = ledger.entry(record)
            if entry.type == "Claimed":
                continue
            if entry.type == "Enrolled":
                retirees.append(entry.stream)
            key = first.setdefault(entry.stream, entry.event_id or "")
            streams.setdefault(key, []).append((entry.type, entry.data))
        return ledger.head(), streams, retirees
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("cli") / "home"
    result = ledger_cli(home, "demo", "--retirees", "6", "--seed", "5")
    assert result.exit_code == 0, result.output
    yield home


def test_demo_writes_a_ledger_catches_the_views_up_and_prints_a_summary(demo_home: Path) -> None:
    status = ledger_cli(demo_home, "projections", "status")
    head, _, retirees = _read(demo_home)

    assert status.exit_code == 0
    assert len(retirees) == 6 and head > 100
    views = ("audit", "workload", "satisfaction", "pensions", "standards", "compliance", "training", "funding",
             "directory")
    for view in views:
        row = next(line for line in status.stdout.splitlines() if f" {view} " in line)
        assert row.replace("│", " ").split()[-3:] == [str(head), str(head), "0"]  # position, head, lag


def test_demo_refuses_a_home_with_data_unless_fresh(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert ledger_cli(home, "demo", "--retirees", "3", "--seed", "2").exit_code == 0
    head, streams, _ = _read(home)

    again = ledger_cli(home, "demo", "--retirees", "3", "--seed", "2")
    fresh = ledger_cli(home, "demo", "--retirees", "3", "--seed", "2", "--fresh")

    assert again.exit_code == 1
    assert "--fresh" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert fresh.exit_code == 0, fresh.output
    fresh_head, fresh_streams, _ = _read(home)
    assert fresh_head == head and fresh_streams == streams  # same seed, same events, no duplicates


def test_history_shows_events_and_state_without_personal_data(demo_home: Path) -> None:
    retiree = _read(demo_home)[2][0]
    enrolled = _enrolled(demo_home, retiree)

    shown = ledger_cli(demo_home, "history", retiree)
    personal = ledger_cli(demo_home, "history", retiree, "--show-personal")

    assert shown.exit_code == 0, shown.output
    assert "Enrolled" in shown.stdout and "***" in shown.stdout and "state:" in shown.stdout
    assert enrolled["id_number"] not in shown.output and enrolled["name"] not in shown.output
    assert enrolled["id_number"] in personal.stdout and enrolled["name"] in personal.stdout


def _enrolled(home: Path, retiree: str) -> dict[str, Any]:
    ledger = Ledger(Settings(home=home))
    try:
        return ledger.history(UUID(retiree))[0].data
    finally:
        ledger.close()


def test_history_as_of_a_date_or_at_a_version(demo_home: Path) -> None:
    retiree = _read(demo_home)[2][0]

    at_version = ledger_cli(demo_home, "history", retiree, "--version", "1")
    both = ledger_cli(demo_home, "history", retiree, "--version", "1", "--as-of", "2020-01-01")
    bad_date = ledger_cli(demo_home, "history", retiree, "--as-of", "2020-13-01")

    assert at_version.exit_code == 0 and "state at version 1: danwei" in at_version.stdout
    assert at_version.stdout.count("Enrolled") == 1 and "PensionAdjusted" not in at_version.stdout
    as_of = ledger_cli(demo_home, "history", retiree, "--as-of", "2026-06-30")
    assert as_of.exit_code == 0 and "state as of 2026-06-30:" in as_of.stdout
    assert both.exit_code == 2 and bad_date.exit_code == 2


def test_history_of_a_community_code(demo_home: Path) -> None:
    known = ledger_cli(demo_home, "history", _community_code(demo_home))

    assert known.exit_code == 0 and "Registered" in known.stdout and "StaffJoined" in known.stdout


def _community_code(home: Path) -> str:
    _, streams, _ = _read(home)
    return next(str(data["code"]) for events in streams.values() for kind, data in events if kind == "Registered")


def test_an_unknown_id_is_one_red_line_and_exit_1(demo_home: Path) -> None:
    result = ledger_cli(demo_home, "history", "00000000-0000-4000-8000-000000000000")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no retiree or community with this id"
    assert "Traceback" not in result.output


def test_export_then_import_into_a_fresh_home_reproduces_every_history(demo_home: Path, tmp_path: Path) -> None:
    dump = tmp_path / "ledger.ndjson"
    fresh = tmp_path / "fresh"

    exported = ledger_cli(demo_home, "export", "--output", str(dump))
    imported = ledger_cli(fresh, "import", str(dump))
    again = ledger_cli(fresh, "import", str(dump))

    assert exported.exit_code == 0 and imported.exit_code == 0, imported.output
    lines = dump.read_bytes().splitlines()
    assert f"exported {len(lines)} events" in exported.stderr
    assert _read(fresh)[1] == _read(demo_home)[1]
    assert f"imported {len(lines)} lines: {len(lines)} appended" in imported.stdout
    assert f"0 appended, {len(lines)} already present" in again.stdout


def test_export_of_one_retiree_to_stdout(demo_home: Path) -> None:
    retiree = _read(demo_home)[2][0]

    result = ledger_cli(demo_home, "export", "--retiree", retiree)
    bad = ledger_cli(demo_home, "export", "--retiree", "nobody")

    assert result.exit_code == 0
    lines = [orjson.loads(line) for line in result.stdout_bytes.splitlines()]
    assert lines and {line["stream"] for line in lines} == {retiree}
    assert bad.exit_code == 2


def test_a_bad_line_exits_1_naming_the_line_and_saves_nothing_of_it(demo_home: Path, tmp_path: Path) -> None:
    dump = tmp_path / "ledger.ndjson"
    assert ledger_cli(demo_home, "export", "--output", str(dump)).exit_code == 0
    lines = dump.read_bytes().splitlines(keepends=True)
    bad = orjson.loads(lines[4])
    bad["data"]["unexpected"] = 1
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(b"".join([*lines[:4], orjson.dumps(bad) + b"\n", *lines[5:]]))
    fresh = tmp_path / "fresh"

    result = ledger_cli(fresh, "import", str(broken))

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == "line 5: unexpected field 'unexpected'"
    _, streams, _ = _read(fresh)
    assert sum(len(events) for events in streams.values()) == 4  # lines 1-4 kept, line 5 not saved
    assert "Traceback" not in result.output


def test_import_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert ledger_cli(tmp_path / "home", "import", str(tmp_path / "missing.ndjson")).exit_code == 2


def test_projections_rebuild_run_once_and_unknown_view(demo_home: Path) -> None:
    rebuilt = ledger_cli(demo_home, "projections", "rebuild", "workload")
    everything = ledger_cli(demo_home, "projections", "rebuild")
    once = ledger_cli(demo_home, "projections", "run", "--once")
    unknown = ledger_cli(demo_home, "projections", "rebuild", "horoscope")

    head = _read(demo_home)[0]
    assert rebuilt.exit_code == 0 and f"rebuilt workload from {head} log records" in rebuilt.stdout
    assert everything.exit_code == 0 and once.exit_code == 0
    assert f"views at seq {head}" in once.stderr
    assert unknown.exit_code == 1 and "horoscope" in unknown.stderr


def test_projections_rebuild_takes_a_number_of_processes(demo_home: Path) -> None:
    two = ledger_cli(demo_home, "projections", "rebuild", "--jobs", "2")
    three = ledger_cli(demo_home, "projections", "rebuild", "--jobs", "3")
    head = _read(demo_home)[0]
    assert two.exit_code == 0 and f"rebuilt all views from {head} log records" in two.stdout
    assert three.exit_code == 1 and "1, 2, 4, 8 or 16 processes, not 3" in three.stderr
    assert "Traceback" not in three.stderr and len(three.stderr.strip().splitlines()) == 1


def test_workers_split_views_and_status_shows_who_runs_each(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert ledger_cli(home, "demo", "--retirees", "3", "--seed", "2").exit_code == 0
    first = ledger_cli(home, "projections", "run", "--once", "--views", "pensions,audit", "--name", "worker-a")
    second = ledger_cli(home, "projections", "run", "--once", "--views", "workload", "--name", "worker-b")
    unknown = ledger_cli(home, "projections", "run", "--once", "--views", "pensions,horoscope")
    status = ledger_cli(home, "projections", "status")

    head = _read(home)[0]
    assert first.exit_code == second.exit_code == 0 and f"pensions, audit at seq {head}" in first.stderr
    assert unknown.exit_code == 1 and "horoscope" in unknown.stderr and "Traceback" not in unknown.output
    cells = [line.replace("│", " ").split() for line in status.stdout.splitlines()]
    rows = {words[0]: " ".join(words) for words in cells if words and words[0] in
            ("pensions", "audit", "workload", "satisfaction")}
    assert "worker-a" in rows["pensions"] and "worker-a" in rows["audit"] and "worker-b" not in rows["pensions"]
    assert "worker-b" in rows["workload"] and "worker-" not in rows["satisfaction"]


def test_status_and_token_tables_stay_readable_at_80_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    narrow = {"LEDGER_HOME": str(home), "COLUMNS": "80", "LEDGER_LOG": "sqlite"}
    assert ledger_cli(home, "demo", "--retirees", "3", "--seed", "2").exit_code == 0
    assert ledger_cli(home, "projections", "verify").exit_code == 0
    assert ledger_cli(home, "projections", "run", "--once", "--views", "audit", "--name", "worker-one").exit_code == 0
    token = ledger_cli(home, "tokens", "create", "--role", "auditor")
    status = runner.invoke(app, ["projections", "status"], env=narrow)
    tokens = runner.invoke(app, ["tokens", "list"], env=narrow)

    assert status.exit_code == tokens.exit_code == token.exit_code == 0
    for table in (status.stdout, tokens.stdout):
        assert max(len(line) for line in table.splitlines()) <= 80
    lines = status.stdout.splitlines()
    for view in ("audit", "workload", "satisfaction", "compliance", "directory"):  # one line each, whole
        assert sum(1 for line in lines if line.split() and line.split()[0] == view) == 1
    assert "worker-one" in next(line for line in lines if line.split() and line.split()[0] == "audit")
    token_id = next(iter(ledger_cli(home, "tokens", "list").stdout.split("│ ")[1:]), "").split()[0]
    assert len(token_id) == 16 and token_id in tokens.stdout  # the id whole on 80 columns


def test_kafka_status_without_a_broker_exits_1(tmp_path: Path) -> None:
    result = ledger_cli(tmp_path / "home", "kafka", "status")

    assert result.exit_code == 1 and result.stdout.strip() == "not running"


def test_serve_with_an_unsupported_log_fails_before_starting(tmp_path: Path) -> None:
    result = ledger_cli(tmp_path / "home", "serve", "--log", "carrier-pigeon")

    assert result.exit_code == 1 and "unsupported event log" in result.stderr


def test_serve_on_a_busy_port_is_one_line_with_a_hint(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ledger_cli(tmp_path / "home", "serve", "--port", str(port))

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (another `ledger serve`?): stop it, or choose another with "
        f"--port {port + 1}"]
    assert not (tmp_path / "home").exists()  # refused before anything was opened


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for name in ("serve", "demo", "history", "export", "import", "projections", "kafka"):
        assert name in result.stdout


def test_a_worker_owning_partitions_needs_a_kafka_log_and_says_so_in_one_line(tmp_path: Path) -> None:
    result = ledger_cli(tmp_path / "h", "projections", "run", "--partitions", "0", "--once")
    assert result.exit_code == 1 and "only a Kafka log has partitions" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    refused = ledger_cli(tmp_path / "h", "projections", "run", "--partitions", "2-1", "--once")
    assert refused.exit_code == 2 and "--partitions" in refused.output
