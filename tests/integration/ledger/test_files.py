"""The data folder is private: folder 0700, its databases (with their WAL files) and exports 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app as cli
from ledger import commands as c
from ledger.config import Settings
from runtime.bootstrap import opened


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_every_file_in_it_are_private(settings: Settings) -> None:
    settings.home.parent.mkdir(parents=True, exist_ok=True)
    with opened(settings) as services:
        services.ledger.handle(c.RegisterCommunity(code="CS-YL-001", name="Yuelu", city="Changsha",
                                                   district="Yuelu", street="S", kind="urban_community"))
        services.settle()
        services.tokens.create("viewer")
        files = [p for p in settings.home.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {"events.db", "views.db", "audit.db", "auth.db"}
        assert mode(settings.home) == 0o700
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_an_export_with_personal_data_is_written_0600(tmp_path: Path) -> None:
    home, target = tmp_path / "home", tmp_path / "export.ndjson"
    env = {"LEDGER_HOME": str(home)}
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "--retirees", "3"], env=env).exit_code == 0
    result = runner.invoke(cli, ["export", "--output", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0 and mode(target) == 0o600
    assert "personal data" in result.output and "0600" in result.output
