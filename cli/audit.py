"""Audit and access commands: the signing key, checkpoints, verification, evidence, tokens.

Verification reads the log as stored (ciphertext) and needs no data-encryption key: an auditor
runs ``ledger verify`` with only the data folder, or only an evidence bundle, and a public key.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from cli.base import app, err, fail, keys_app, out, tokens_app
from ledger.config import Settings
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
                                                         help="A checkpoint JSON you kept earlier.")] = None,
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
    report = _verify_bundle(evidence, key) if evidence is not None else _verify_log(from_checkpoint, key,
                                                                                    require_signed, source)
    if not report.ok:
        fail(f"verification FAILED at seq {report.first_bad_seq}: {report.reason}")
    out().print(f"verified: {report.checked} events, chain intact, {report.checkpoints} checkpoint(s) valid, "
                f"signed up to seq {report.signed} of {report.head}", soft_wrap=True)
    if evidence is None and report.checkpoints == 0 and key is None:
        err().print("no signing key yet: only the hash chain was checked (run `ledger keys init` to sign "
                    "checkpoints)", soft_wrap=True)


def _verify_bundle(directory: Path, key: bytes | None) -> VerifyReport:
    from ledger.integrity.evidence import verify_evidence

    return verify_evidence(directory, public_key=key)


def _verify_log(trusted_file: Path | None, key: bytes | None, require_signed: bool, source: str) -> VerifyReport:
    """The embedded log, or on Kafka the topic itself (read_committed) or the writer's index."""
    from cli.base import progress
    from ledger.integrity.checkpoints import Checkpoint
    from ledger.integrity.verify import verify_ledger
    from runtime.bootstrap import opened

    settings = replace(Settings.from_env(), encrypt=False)  # the bytes as stored: no data key needed
    trusted = Checkpoint.from_json(trusted_file.read_text()) if trusted_file is not None else None
    with opened(settings) as services, progress("verifying") as update:
        return verify_ledger(services.ledger, services.checkpoints, trusted=trusted, public_key=key,
                             require_signed=require_signed, use_topic=source == "topic", progress=update)


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

    table = Table(title="Tokens")
    for column in ("id", "role", "scope", "label", "created", "revoked"):
        table.add_column(column)
    for info in TokenStore.of(Settings.from_env()).list():
        table.add_row(info.token_id, str(info.role), str(info.scope), info.label, str(info.created_at),
                      str(info.revoked_at or ""))
    out().print(table)
