"""The auditor's commands end to end: checkpoints kept as JSON or as signed notes, an evidence bundle
checked offline with only the public key, the unsigned-events warning."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.integrity.checkpoints import CheckpointStore, public_key_path
from tests.integration.cli.test_cli import _read, ledger_cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for args in (("demo", "--retirees", "4", "--seed", "3"), ("keys", "init")):
        result = ledger_cli(home, *args)
        assert result.exit_code == 0, result.output
    return home


def test_an_evidence_bundle_checks_offline_against_a_checkpoint_kept_as_json_or_as_a_note(
    home: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "auditor" / "kept.json"
    kept.parent.mkdir()
    result = ledger_cli(home, "checkpoint")
    assert result.exit_code == 0, result.output
    kept.write_text(result.output)
    store = CheckpointStore.for_settings(Settings(home=home))
    note = tmp_path / "auditor" / "kept.note"
    latest, pem = store.latest(), store.public_key()
    assert latest is not None and pem is not None
    note.write_text(latest.note(pem))
    store.close()
    public = shutil.copy(public_key_path(Settings(home=home)), tmp_path / "auditor" / "ledger.pub")

    retiree = _read(home)[2][0]
    bundle = tmp_path / "bundle"
    result = ledger_cli(home, "export", "--retiree", retiree, "--evidence", str(bundle))
    assert result.exit_code == 0, result.output
    shutil.rmtree(home)  # the auditor has the bundle, the public key and the checkpoint: nothing else
    for trusted in (kept, note):
        result = ledger_cli(tmp_path / "nowhere", "verify", "--evidence", str(bundle), "--public-key", str(public),
                            "--from-checkpoint", str(trusted))
        assert result.exit_code == 0, result.output
        assert "extends the checkpoint you kept" in result.output

    records = [orjson.loads(line) for line in (bundle / "records.ndjson").read_bytes().splitlines()]
    records[-1]["prev_hash"] = "0" * 64
    (bundle / "records.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = ledger_cli(tmp_path / "nowhere", "verify", "--evidence", str(bundle), "--public-key", str(public))
    assert result.exit_code == 1
    assert re.search(rf"FAILED at seq {records[-1]['seq']}\b", result.output), result.output


def test_plain_verify_warns_about_events_no_checkpoint_covers_yet(home: Path) -> None:
    assert ledger_cli(home, "checkpoint").exit_code == 0
    result = ledger_cli(home, "verify")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    ledger = Ledger(Settings(home=home))
    try:
        ledger.handle(c.RegisterCommunity(code="ZZ-HT-009", name="Hetang", city="Zhuzhou", district="Hetang",
                                          street="Jianshe Rd", kind="urban_community"))
    finally:
        ledger.close()
    result = ledger_cli(home, "verify")
    assert result.exit_code == 0
    assert "warning: 1 event(s) after seq" in result.output and "not covered by a signed checkpoint" in result.output
    assert ledger_cli(home, "verify", "--require-signed").exit_code == 1
