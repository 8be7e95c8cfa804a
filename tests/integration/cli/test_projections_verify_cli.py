"""``ledger projections verify [NAME]``: a table of views, exit 1 naming the views that differ from a replay
of the log, one line for an unknown name; ``projections status`` shows the last result."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from cli.base import app
from cli.main import main  # noqa: F401  (registers every command on the app)

VIEWS = ("audit", "workload", "satisfaction", "pensions", "standards", "compliance", "training", "funding", "directory")


def ledger_cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"LEDGER_HOME": str(home), "COLUMNS": "200", "LEDGER_LOG": "sqlite"})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("verify") / "home"
    result = ledger_cli(home, "demo", "--retirees", "6", "--seed", "3")
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def home(demo: Path) -> Iterator[Path]:
    """The demo home; rebuilt afterwards, which repairs edited views and clears the kept results (a copy of
    the home would not open: its sealed events are bound to where they are stored)."""
    yield demo
    assert ledger_cli(demo, "projections", "rebuild").exit_code == 0


def row_of(output: str, view: str) -> list[str]:
    line = next(line for line in output.splitlines() if f" {view} " in line)
    return line.replace("│", " ").split()


def test_views_of_the_demo_verify_ok_and_status_shows_when(home: Path) -> None:
    before = ledger_cli(home, "projections", "status")
    result = ledger_cli(home, "projections", "verify")
    after = ledger_cli(home, "projections", "status")

    assert result.exit_code == 0, result.output
    for view in VIEWS:
        assert row_of(result.stdout, view)[-1] == "OK"
        assert "never" in row_of(before.stdout, view)
        assert row_of(after.stdout, view)[4:6] == ["UTC", "OK"]  # name, version, date, time, UTC, OK, ...
    assert "verified" in after.stdout and after.exit_code == 0


def test_an_edited_row_exits_1_naming_the_view_and_the_row(home: Path) -> None:
    with closing(sqlite3.connect(home / "views.db")) as db, db:
        kind, key, data = db.execute("SELECT kind, key, data FROM view_rows WHERE view='workload' AND kind='month' "
                                     "ORDER BY key LIMIT 1").fetchone()
        changed = orjson.loads(data)
        field = next(f for f, v in changed.items() if isinstance(v, int))
        changed[field] += 1
        db.execute("UPDATE view_rows SET data=? WHERE view='workload' AND kind=? AND key=?",
                   (orjson.dumps(changed), kind, key))

    result = ledger_cli(home, "projections", "verify")
    one = ledger_cli(home, "projections", "verify", "audit")
    status = ledger_cli(home, "projections", "status")

    assert result.exit_code == 1
    assert f"different {kind}/{key} ({field})" in result.stdout
    assert row_of(result.stdout, "audit")[-1] == "OK"
    assert result.stderr.strip().splitlines()[-1].startswith("1 view(s) differ from a replay of the log: workload;")
    assert one.exit_code == 0 and " workload " not in one.stdout
    assert "DIFFERS" in row_of(status.stdout, "workload") and "OK" in row_of(status.stdout, "audit")


def test_an_unknown_view_exits_1_with_one_line(home: Path) -> None:
    result = ledger_cli(home, "projections", "verify", "nope")

    assert result.exit_code == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "unknown projection(s) ['nope']" in result.stderr and "Traceback" not in result.output
