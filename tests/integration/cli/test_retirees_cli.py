"""``ledger retirees list|find`` (cli/retirees.py) on a demo ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from ledger.application import Ledger
from ledger.config import Settings
from tests.people import id_number


def ledger_cli(home: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin,
                              env={"LEDGER_HOME": str(home), "COLUMNS": "200", "LEDGER_LOG": "sqlite"})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A demo ledger of 8 retirees, and each one's id, state and enrolled ID number."""
    home = tmp_path_factory.mktemp("retirees") / "home"
    result = ledger_cli(home, "demo", "--retirees", "8", "--seed", "4")
    assert result.exit_code == 0, result.output
    ledger = Ledger(Settings(home=home))
    try:
        people = []
        for record in ledger.iter_log():
            entry = ledger.entry(record)
            if entry.type == "Enrolled":
                state = ledger.retiree(UUID(entry.stream))
                people.append({"id": entry.stream, "id_number": entry.data["id_number"], "city": state.city,
                               "community": state.community, "stage": state.stage, "name": state.name})
        return home, people
    finally:
        ledger.close()


def _ids(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [word for line in result.stdout.splitlines() for word in line.replace("│", " ").split()
            if len(word) == 36 and word.count("-") == 4]


def test_list_shows_every_retiree_without_personal_data(demo: tuple[Path, list[dict[str, Any]]]) -> None:
    home, people = demo
    result = ledger_cli(home, "retirees", "list")
    assert sorted(_ids(result)) == _ids(result) == sorted(p["id"] for p in people)
    assert not any(p["name"] in result.output or p["id_number"] in result.output for p in people)


def test_list_pages_and_filters(demo: tuple[Path, list[dict[str, Any]]]) -> None:
    home, people = demo
    first = ledger_cli(home, "retirees", "list", "--limit", "5")
    assert len(_ids(first)) == 5 and f"--after {_ids(first)[-1]}" in first.stderr
    rest = ledger_cli(home, "retirees", "list", "--limit", "5", "--after", _ids(first)[-1])
    assert _ids(first) + _ids(rest) == sorted(p["id"] for p in people) and "more follow" not in rest.stderr
    managed = next(p for p in people if p["community"] is not None)
    by_community = ledger_cli(home, "retirees", "list", "--community", managed["community"])
    assert set(_ids(by_community)) == {p["id"] for p in people if p["community"] == managed["community"]}
    by_city = ledger_cli(home, "retirees", "list", "--city", managed["city"], "--stage", managed["stage"])
    assert set(_ids(by_city)) == {p["id"] for p in people
                                  if (p["city"], p["stage"]) == (managed["city"], managed["stage"])}
    assert ledger_cli(home, "retirees", "list", "--stage", "retired").exit_code == 2


def test_find_reads_the_id_number_from_stdin_never_argv(demo: tuple[Path, list[dict[str, Any]]]) -> None:
    home, people = demo
    person = people[0]
    found = ledger_cli(home, "retirees", "find", stdin=person["id_number"].lower() + "\n")
    assert found.exit_code == 0, found.output
    assert found.stdout.strip() == person["id"]
    missing = ledger_cli(home, "retirees", "find", stdin=id_number("1950-01-02", 999, "439999") + "\n")
    assert missing.exit_code == 1 and "no retiree with this ID number" in missing.stderr
    bad = ledger_cli(home, "retirees", "find", stdin="43010419580512122\n")
    assert bad.exit_code == 1 and "not a valid ID number" in bad.stderr and "43010419580512122" not in bad.output
    assert ledger_cli(home, "retirees", "find", stdin="\n").exit_code == 1
    assert ledger_cli(home, "retirees", "find", person["id_number"]).exit_code == 2  # no argument taken


def test_the_list_stays_readable_at_80_columns(demo: tuple[Path, list[dict[str, Any]]]) -> None:
    home, people = demo
    narrow = CliRunner().invoke(app, ["retirees", "list"],
                                env={"LEDGER_HOME": str(home), "COLUMNS": "80", "LEDGER_LOG": "sqlite"})
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for person in people:  # each id whole on one line, with its community and stage beside it
        line = next(line for line in lines if person["id"] in line)
        assert (person["community"] or "") in line and person["stage"] in line
    assert "district" not in narrow.stdout and "district" in ledger_cli(home, "retirees", "list").stdout
