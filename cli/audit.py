"""Audit and access commands: the signing key, checkpoints, verification, evidence, tokens.

Verification reads the log as stored (ciphertext) and needs no data-encryption key: an auditor
runs ``ledger verify`` with only the data folder, or only an evidence bundle, and a public key.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from cli.base import app, err, fail, keys_app, out, tokens_app
from ledger.config import Settings
from ledger.integrity.checkpoints import Checkpoint
from ledger.integrity.verify import VerifyReport


@keys_app.command("init")
def keys_init(
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when a key exists.")] = False,
) -> None:
    """Create the Ed25519 signing key (private key file mode 0600, outside the data folder)."""
    from ledger.integrity.checkpoints import init_signing_key, signing_key_path

    settings = Settings.from_env()
    if if_missing and signing_key_path(settings).exists():
        out().print(f"signing key already at {signing_key_path(settings)}", soft_wrap=True)
        return
    path = init_signing_key(settings)
    out().print(f"signing key written to {path} (keep it off the data disk's backups); public key beside it",
                soft_wrap=True)


def checkpoint_now(settings: Settings) -> str:
    from ledger.errors import NotFoundError
    from runtime.bootstrap import opened

    with opened(settings) as services:
        if services.checkpointer is None:
            raise NotFoundError("no signing key: run `ledger keys init` first")
        return services.checkpointer.checkpoint_now().to_json()


def export_evidence_bundle(settings: Settings, retiree: UUID, directory: Path) -> None:
    """Signs a checkpoint covering the retiree's latest events, writes the bundle, checks it."""
    from ledger.integrity.evidence import export_evidence, verify_evidence
    from runtime.bootstrap import opened

    checkpoint_now(settings)
    with opened(settings) as services:
        path = export_evidence(services.ledger, services.checkpoints, retiree, directory)
    report = verify_evidence(path)
    if not report.ok:
        fail(f"the bundle in {path} does not verify: {report.reason}")
    err().print(f"evidence for {retiree} written to {path} and verified ({report.checked} links)", soft_wrap=True)


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the current head now; prints it as JSON for auditors to keep."""
    out().print_json(checkpoint_now(Settings.from_env()))


@app.command("verify")
def verify(
    from_checkpoint: Annotated[Path | None, typer.Option("--from-checkpoint", exists=True, dir_okay=False,
                                                         help="A checkpoint you kept earlier (JSON or note).")] = None,
    public_key: Annotated[Path | None, typer.Option("--public-key", exists=True, dir_okay=False,
                                                    help="The ledger's public key (PEM or raw).")] = None,
    evidence: Annotated[Path | None, typer.Option("--evidence", exists=True, file_okay=False,
                                                  help="Check an evidence bundle offline.")] = None,
    require_signed: Annotated[bool, typer.Option("--require-signed",
                                                 help="Fail on events after the last checkpoint.")] = False,
    source: Annotated[str, typer.Option("--source", help="Kafka backend: verify the topic (default) or the "
                                                         "local index.")] = "topic",
) -> None:
    """Recompute the hash chain, check every checkpoint, name the first event that does not match."""
    if source not in ("topic", "index"):
        raise typer.BadParameter("use topic or index", param_hint="--source")
    key = public_key.read_bytes() if public_key is not None else None
    if evidence is not None:
        report = _verify_bundle(evidence, key, from_checkpoint)
        if not report.ok:
            fail(f"verification FAILED{_at(report)}: {report.reason}")
        kept = ", and it extends the checkpoint you kept" if from_checkpoint is not None else ""
        out().print(f"verified: {report.checked} record(s) of the retiree, each in the signed tree of "
                    f"{report.head} events{kept}", soft_wrap=True)
        return
    report = _verify_log(from_checkpoint, key, require_signed, source)
    if not report.ok:
        fail(f"verification FAILED{_at(report)}: {report.reason}")
    out().print(f"verified: {report.checked} events, chain and Merkle tree intact, {report.checkpoints} "
                f"checkpoint(s) valid, signed up to seq {report.signed} of {report.head}"
                + (f", {report.snapshots} snapshot(s) sound" if report.snapshots is not None else ""), soft_wrap=True)
    if report.checkpoints == 0 and key is None:
        err().print("no signing key yet: only the hash chain was checked (run `ledger keys init` to sign "
                    "checkpoints)", soft_wrap=True)
    elif report.head > report.signed:
        err().print(f"warning: {report.head - report.signed} event(s) after seq {report.signed} are not covered by "
                    "a signed checkpoint yet (`ledger checkpoint` signs them; --require-signed fails on them)",
                    soft_wrap=True)
    if report.snapshots is None:
        err().print("snapshots not checked: no data key here (they are checked where the ledger's data key is)",
                    soft_wrap=True)


def _at(report: VerifyReport) -> str:
    return f" at seq {report.first_bad_seq}" if report.first_bad_seq is not None else ""


def _kept(path: Path, key: bytes | None, bundle: Path | None = None) -> Checkpoint:
    """A checkpoint the auditor kept: the JSON of ``ledger checkpoint`` or a C2SP note (opened with
    ``key``, else the bundle's key)."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        return Checkpoint.from_json(text)
    if key is None and bundle is not None:
        key = (bundle / "public-key.pem").read_bytes()
    if key is None:
        raise typer.BadParameter("a checkpoint note needs --public-key to be opened", param_hint="--from-checkpoint")
    return Checkpoint.from_note(text, key)


def _verify_bundle(directory: Path, key: bytes | None, trusted_file: Path | None) -> VerifyReport:
    from ledger.integrity.evidence import verify_evidence

    trusted = _kept(trusted_file, key, directory) if trusted_file is not None else None
    return verify_evidence(directory, public_key=key, trusted=trusted)


def _verify_log(trusted_file: Path | None, key: bytes | None, require_signed: bool, source: str) -> VerifyReport:
    """The embedded log, or on Kafka the topic itself (read_committed) or the writer's index. The
    chain and the tree need no data key; snapshots are checked only where the data key is."""
    from cli.base import progress
    from ledger.integrity.verify import verify_ledger
    from runtime.bootstrap import opened

    settings = Settings.from_env()
    settings = replace(settings, encrypt=settings.encrypt and has_data_key(settings))
    with opened(settings) as services, progress("verifying") as update:
        trusted = _kept(trusted_file, key or services.checkpoints.public_key()) if trusted_file is not None else None
        return verify_ledger(services.ledger, services.checkpoints, trusted=trusted, public_key=key,
                             require_signed=require_signed, use_topic=source == "topic", progress=update)


def has_data_key(settings: Settings) -> bool:
    import os

    return bool(os.environ.get("LEDGER_DATA_KEY")) or settings.data_key_path.exists()


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option("--role", help="agency, community, auditor or viewer.")],
    scope: Annotated[str | None, typer.Option("--scope", help="city:NAME or community:CODE.")] = None,
    label: Annotated[str, typer.Option("--label", help="A note for you (no personal data).")] = "",
) -> None:
    """Create a bearer token; it is printed once and only its hash is stored."""
    from ledger.tokens import TokenStore

    token, info = TokenStore.of(Settings.from_env()).create(role, scope, label)
    err().print(f"token {info.token_id} for {info.role} ({info.scope}); store it now, it cannot be shown again:")
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The token id (scl_<ID>_…).")]) -> None:
    """Revoke a token for good."""
    from ledger.tokens import TokenStore

    if not TokenStore.of(Settings.from_env()).revoke(token_id):
        fail(f"no active token {token_id}")
    out().print(f"revoked {token_id}")


@tokens_app.command("list")
def tokens_list() -> None:
    """Every token's id, role, scope and state (never a secret)."""
    from ledger.tokens import TokenStore

    def when(at: datetime | None) -> str:
        return "" if at is None else f"{at.astimezone(UTC):%Y-%m-%d %H:%M}"

    table = Table(title="Tokens (UTC)")
    for column in ("id", "role", "scope", "label", "created", "revoked"):  # ids and times whole on 80 columns
        table.add_column(column, no_wrap=column in ("id", "role", "created", "revoked"), overflow="fold")
    for info in TokenStore.of(Settings.from_env()).list():
        table.add_row(info.token_id, str(info.role), str(info.scope), info.label, when(info.created_at),
                      when(info.revoked_at))
    out().print(table)
