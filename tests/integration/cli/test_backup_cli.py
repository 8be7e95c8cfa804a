"""``ledger backup`` / ``restore`` and the id map of ``ledger import``, through typer's CliRunner on real homes."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from ledger.application import Ledger
from ledger.config import Settings

runner = CliRunner()


def ledger_cli(home: Path, keys: Path, *args: str) -> Result:
    env = {"LEDGER_HOME": str(home), "LEDGER_KEYS_DIR": str(keys), "COLUMNS": "200", "LEDGER_LOG": "sqlite"}
    return runner.invoke(app, list(args), env=env)


def one_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and "━" not in line]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture(scope="module")
def signed_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    """A demo home with a signing key, a token and a checkpoint JSON an auditor kept."""
    root = tmp_path_factory.mktemp("backup-cli")
    home, keys = root / "home", root / "keys"
    assert ledger_cli(home, keys, "demo", "--retirees", "4", "--seed", "3").exit_code == 0
    assert ledger_cli(home, keys, "keys", "init").exit_code == 0
    assert ledger_cli(home, keys, "tokens", "create", "--role", "auditor").exit_code == 0
    checkpoint = ledger_cli(home, keys, "checkpoint")
    assert checkpoint.exit_code == 0, checkpoint.output
    kept = root / "checkpoint.json"
    kept.write_text(checkpoint.stdout)
    yield home, keys, kept


def test_backup_then_restore_verifies_against_a_checkpoint_of_the_original(
    signed_home: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    home, keys, kept = signed_home
    head = orjson.loads(kept.read_text())["seq"]

    backup = ledger_cli(home, keys, "backup", str(tmp_path / "backup"))
    restored = ledger_cli(tmp_path / "copy", keys, "restore", str(tmp_path / "backup"))
    verified = ledger_cli(tmp_path / "copy", keys, "verify", "--from-checkpoint", str(kept), "--require-signed")
    status = ledger_cli(tmp_path / "copy", keys, "projections", "status")
    tokens = ledger_cli(tmp_path / "copy", keys, "tokens", "list")

    assert backup.exit_code == 0, backup.output
    assert f"backed up {head} events" in backup.stdout and "1 checkpoint(s) and 1 token(s)" in backup.stdout
    assert f"back up the keys folder {keys}" in backup.stderr and "same data key" in backup.stderr
    assert restored.exit_code == 0, restored.output
    assert f"restored {head} events" in restored.stdout and "views rebuilt" in restored.stdout
    assert verified.exit_code == 0, verified.output
    assert f"signed up to seq {head} of {head}" in verified.stdout
    assert status.exit_code == 0 and tokens.exit_code == 0 and "auditor" in tokens.stdout


def test_restore_into_a_home_that_holds_events_exits_1_with_one_line(
    signed_home: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    home, keys, _ = signed_home
    assert ledger_cli(home, keys, "backup", str(tmp_path / "backup")).exit_code == 0

    line = one_line(ledger_cli(home, keys, "restore", str(tmp_path / "backup")))

    assert line.startswith("error: the target ledger already holds")


def test_a_corrupt_backup_exits_1_with_one_line_and_restores_nothing(
    signed_home: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    home, keys, _ = signed_home
    folder = tmp_path / "backup"
    assert ledger_cli(home, keys, "backup", str(folder)).exit_code == 0
    data = bytearray((folder / "events.ndjson").read_bytes())
    data[len(data) // 3] ^= 0x04
    (folder / "events.ndjson").write_bytes(bytes(data))

    line = one_line(ledger_cli(tmp_path / "copy", keys, "restore", str(folder)))

    assert line.startswith("error: the backup is corrupt: events.ndjson")
    copy = Ledger(Settings(home=tmp_path / "copy", keys_dir=keys))
    try:
        assert copy.head() == 0
    finally:
        copy.close()


def test_backup_into_a_folder_that_is_not_empty_exits_1(signed_home: tuple[Path, Path, Path], tmp_path: Path) -> None:
    home, keys, _ = signed_home
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "x").write_text("x")

    assert "not an empty folder" in one_line(ledger_cli(home, keys, "backup", str(tmp_path / "backup")))


def test_restore_without_the_originals_keys_exits_1_and_creates_no_key(
    signed_home: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    home, keys, _ = signed_home
    assert ledger_cli(home, keys, "backup", str(tmp_path / "backup")).exit_code == 0
    empty_keys = tmp_path / "new-keys"

    line = one_line(ledger_cli(tmp_path / "copy", empty_keys, "restore", str(tmp_path / "backup")))

    assert f"the keys folder {empty_keys} lacks data.key, lookup.key" in line
    assert not empty_keys.exists() and not (tmp_path / "copy").exists()


def test_restore_of_a_folder_without_a_manifest_exits_1_and_of_a_missing_folder_exits_2(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    keys = tmp_path / "keys"
    half = ledger_cli(tmp_path / "home", keys, "restore", str(tmp_path / "half"))

    assert "manifest.json is missing" in one_line(half)
    assert ledger_cli(tmp_path / "home", keys, "restore", str(tmp_path / "nowhere")).exit_code == 2


def _map(path: Path) -> dict[str, str]:
    with path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["old_id", "new_id"]
    return dict(rows[1:])


def test_import_writes_the_id_map_of_the_retirees_it_created(
    signed_home: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    home, keys, _ = signed_home
    dump = tmp_path / "ledger.ndjson"
    assert ledger_cli(home, keys, "export", "--output", str(dump)).exit_code == 0
    enrolled = {line["stream"]: line["data"]["id_number"] for line in map(orjson.loads, dump.read_bytes().splitlines())
                if line["type"] == "Enrolled"}

    imported = ledger_cli(tmp_path / "fresh", tmp_path / "fresh-keys", "import", str(dump))
    chosen = ledger_cli(tmp_path / "other", tmp_path / "other-keys", "import", str(dump), "--id-map",
                        str(tmp_path / "ids.csv"))

    assert imported.exit_code == 0 and chosen.exit_code == 0, imported.output
    default = tmp_path / "ledger.ndjson.id-map.csv"
    assert f"id map of {len(enrolled)} retirees (old_id,new_id) written to {default}" in imported.stderr
    assert oct(default.stat().st_mode & 0o777) == "0o600"
    id_map = _map(default)
    assert set(id_map) == set(enrolled) and not set(id_map.values()) & set(enrolled)  # new ids, every one
    fresh = Ledger(Settings(home=tmp_path / "fresh", keys_dir=tmp_path / "fresh-keys"))
    try:
        assert {old: str(fresh.find_retiree(number)) for old, number in enrolled.items()} == id_map
    finally:
        fresh.close()
    assert set(_map(tmp_path / "ids.csv")) == set(enrolled)
