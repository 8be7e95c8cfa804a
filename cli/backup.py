"""``ledger backup DIR`` and ``ledger restore DIR``: the log as stored, with its checkpoints and tokens.

A backup is taken online (the API may keep writing: it copies the log up to the head it saw) and
restores into an empty ledger on either backend, where it verifies against checkpoints signed by
the original. Keys are never in a backup (``ledger.exchange.backup``): the commands say where they
are. For a migration that re-checks every event by the domain rules use ``export`` / ``import``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.base import app, err, out, progress
from ledger.config import Settings
from ledger.exchange.backup import BackupError, Manifest, check_backup_folder, take_backup
from ledger.exchange.restore import missing_keys, restore
from runtime.bootstrap import opened


def _keys_note(settings: Settings) -> str:
    kafka = ", writer.key" if settings.backend == "kafka" else ""
    return (f"keys are not in the backup: back up the keys folder {settings.keys_path} (data.key, lookup.key, "
            f"signing.key{kafka}) separately; a restored ledger needs the same data key to read its events")


@app.command("backup")
def backup(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A new or empty folder.")],
) -> None:
    """Copy the log (ids, seq, times, authors, hashes, tree), its checkpoints and tokens to DIR, online."""
    check_backup_folder(directory)
    settings = Settings.from_env()
    with opened(settings) as services, progress("backing up events") as tick:
        manifest = take_backup(services.ledger, directory, progress=tick)
    out().print(f"backed up {manifest.head} events (head seq {manifest.head}, Merkle root {manifest.root_hash}), "
                f"{manifest.checkpoints} checkpoint(s) and {manifest.tokens} token(s) to {directory} (folder 0700, "
                "files 0600: the events hold personal data, encrypted)", soft_wrap=True)
    err().print(_keys_note(settings), soft_wrap=True)


@app.command("restore")
def restore_(
    directory: Annotated[Path, typer.Argument(metavar="DIR", exists=True, file_okay=False,
                                              help="A folder written by `ledger backup`.")],
) -> None:
    """Restore a backup into an empty ledger (this LEDGER_HOME, LEDGER_LOG), then rebuild the views."""
    Manifest.read(directory)
    settings = Settings.from_env()
    missing = missing_keys(settings)
    if missing:
        raise BackupError(f"the keys folder {settings.keys_path} lacks {', '.join(p.name for p in missing)}: copy "
                          "the original ledger's keys folder there first (or set LEDGER_KEYS_DIR, LEDGER_DATA_KEY); "
                          "keys are not in a backup")
    with opened(settings) as services:
        report = restore(services.ledger, directory, phases=progress)
        with progress("rebuilding views") as tick:
            services.runner.rebuild(progress=tick)
    out().print(f"restored {report.events} events (head hash {report.head_hash}, Merkle root {report.root_hash}), "
                f"{report.checkpoints} checkpoint(s) and {report.tokens} token(s) into {settings.home}; views "
                "rebuilt. Check it with `ledger verify --from-checkpoint FILE` and a checkpoint of the original.",
                soft_wrap=True)
