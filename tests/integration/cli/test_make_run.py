"""``make run`` keeps an existing ledger and says so; ``make demo`` replaces it; the same seed gives the
same retiree ids. The targets are read with ``make -n`` and their ``ledger demo`` commands run in-process."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from ledger.application import Ledger
from ledger.config import Settings

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def demo_args(target: str, *variables: str) -> list[str]:
    """The arguments of the ``ledger demo`` line that ``make <target> [variables]`` runs (default: a small demo)."""
    if shutil.which("make") is None:
        pytest.fail("make is needed to read the Makefile's targets")
    planned = subprocess.run(["make", "-n", "-s", "-W", "pyproject.toml", target,
                              *(variables or ("RETIREES=4", "SEED=5"))],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(line for line in planned.splitlines() if "ledger demo" in line)
    return shlex.split(line)[1:]


def ledger_cli(home: Path, args: list[str]) -> Result:
    return runner.invoke(app, args, env={"LEDGER_HOME": str(home), "COLUMNS": "200", "LEDGER_LOG": "sqlite"})


def retirees(home: Path) -> tuple[int, list[str]]:
    ledger = Ledger(Settings(home=home))
    try:
        ids = [ledger.entry(r).stream for r in ledger.iter_log() if ledger.entry(r).type == "Enrolled"]
        return ledger.head(), ids
    finally:
        ledger.close()


def test_make_run_writes_a_demo_only_when_there_is_no_ledger_and_says_which(tmp_path: Path) -> None:
    run = demo_args("run")
    assert "--keep" in run and "--fresh" not in run
    home = tmp_path / "home"

    first = ledger_cli(home, run)
    assert first.exit_code == 0, first.output
    assert "Wrote a new demo ledger" in first.stdout
    before = retirees(home)

    second = ledger_cli(home, run)
    assert second.exit_code == 0, second.output
    assert "Kept the existing ledger" in second.stdout and f"({before[0]} events)" in second.stdout
    assert "make demo" in second.stdout
    assert retirees(home) == before


def test_make_demo_replaces_the_ledger_with_the_same_retiree_ids(tmp_path: Path) -> None:
    demo = demo_args("demo")
    assert "--fresh" in demo
    home = tmp_path / "home"
    assert ledger_cli(home, demo_args("run")).exit_code == 0
    head, ids = retirees(home)

    replaced = ledger_cli(home, demo)
    assert replaced.exit_code == 0, replaced.output
    assert "the old data was deleted" in replaced.stdout
    assert retirees(home) == (head, ids) and ids  # same seed: same events, same retiree ids
    elsewhere = tmp_path / "elsewhere"
    assert ledger_cli(elsewhere, demo).exit_code == 0
    assert retirees(elsewhere)[1] == ids


def test_fresh_and_keep_exclude_each_other(tmp_path: Path) -> None:
    result = ledger_cli(tmp_path / "home", ["demo", "--retirees", "2", "--fresh", "--keep"])
    assert result.exit_code == 1 and "exclude" in result.stderr


def test_demo_events_writes_a_log_of_about_that_size_with_views_caught_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = ledger_cli(home, ["demo", "--events", "400", "--seed", "3"])
    assert done.exit_code == 0, done.output
    head, ids = retirees(home)
    assert 400 <= head <= 480 and ids  # the business events plus identity claims
    assert f"{head:,} events" in done.stdout
    status = ledger_cli(home, ["projections", "status"])
    assert status.exit_code == 0
    row = next(line for line in status.stdout.splitlines() if " workload " in line)
    assert row.replace("│", " ").split()[-3:] == [str(head), str(head), "0"]  # position, head, lag
    again = ledger_cli(home, ["demo", "--events", "400"])
    assert again.exit_code == 1 and "already holds" in again.output and retirees(home)[0] == head
