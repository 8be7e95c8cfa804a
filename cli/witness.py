"""``ledger witness``: an auditor's witness of the ledger's signed checkpoints, over HTTP.

Needs no data folder and no signing key: only the server's URL, an auditor token and a state folder
of its own (``ledger.integrity.witness``). Run it from cron; exit 0 when the served checkpoint extends
the one it kept, 1 with a red ``FORK:`` / ``SHRINK:`` / ``KEY CHANGED:`` / ``BAD CHECKPOINT:`` line when not.
The token is sent only in the ``Authorization`` header and never printed.
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from cli.base import app, err, fail, out
from ledger.errors import InvalidInputError
from ledger.integrity.witness import Fetch, Witness, WitnessError, WitnessFetchError, WitnessResult, read_verifier_key

MAX_BODY = 1 << 20  # a checkpoint note or a proof is a few KiB
_TOKEN = re.compile(r"[\x21-\x7e]+")  # one visible-ASCII word: nothing that could break (or echo in) a header


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the token elsewhere: answer it as the 3xx it is."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def http_fetch(base_url: str, token: str, timeout: float) -> Fetch:
    """GETs ``base_url + path`` with the bearer token: ``(status, body)``, HTTP errors included;
    ``WitnessFetchError`` when the server cannot be reached or its answer is too large."""
    opener = urllib.request.build_opener(_NoRedirect)

    def fetch(path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {token}",
                                                                   "User-Agent": "ledger-witness"})
        try:
            with opener.open(request, timeout=timeout) as response:
                status, body = int(response.status), response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read(MAX_BODY + 1)
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets, bad answers
            reason = getattr(error, "reason", error)
            raise WitnessFetchError(f"cannot reach {base_url}: {reason}") from None
        if len(body) > MAX_BODY:
            raise WitnessFetchError(f"{path.partition('?')[0]}: the answer is over {MAX_BODY} bytes")
        return status, body

    return fetch


def _token(token_file: Path | None) -> str:
    token = token_file.read_text().strip() if token_file is not None else os.environ.get("LEDGER_TOKEN", "").strip()
    if not token:
        fail("error: no auditor token: pass --token-file FILE or set LEDGER_TOKEN")
    if not _TOKEN.fullmatch(token):
        fail("error: the auditor token is malformed (one word of visible ASCII expected)")
    return token


def _base_url(url: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise typer.BadParameter("expected http(s)://HOST[:PORT][/PREFIX]", param_hint="--url")
    return url.rstrip("/")


@app.command("witness")
def witness(
    url: Annotated[str, typer.Option("--url", help="The ledger API's base URL, e.g. http://127.0.0.1:8000.")],
    state: Annotated[Path, typer.Option("--state", file_okay=False, help="The witness's own folder (made 0700).")],
    token_file: Annotated[Path | None, typer.Option("--token-file", exists=True, dir_okay=False,
                                                    help="A file with an auditor token (else LEDGER_TOKEN).")] = None,
    verifier_key: Annotated[str | None, typer.Option("--verifier-key", metavar="KEY_OR_FILE",
                                                     help="The ledger's verifier key (name+id+key) or a file with "
                                                          "it, pinned on the first run; without it the server's "
                                                          "key is trusted on first use.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, max=600, help="Seconds per request.")] = 30,
) -> None:
    """Check the ledger's latest signed checkpoint against the one kept in --state: its signature, then
    the consistency proof from it; store it. Exit 1 on a fork, a shrink or a changed key."""
    base, token = _base_url(url), _token(token_file)
    try:
        pin = read_verifier_key(verifier_key) if verifier_key is not None else None
    except OSError as error:
        raise InvalidInputError(f"--verifier-key: cannot read {verifier_key}: {error.strerror}") from None
    try:
        result = Witness(http_fetch(base, token, timeout), state).run(pin)
    except WitnessError as error:
        kept = f" (kept in {error.evidence})" if error.evidence is not None else ""
        fail(f"{error.label}: {error.detail}{kept}")
        return
    if result.trusted_on_first_use:
        err().print(f"trust on first use: pinned the server's verifier key {result.verifier_key} in {state}; "
                    "check it against the key the ledger published", soft_wrap=True)
    out().print(summary(result), soft_wrap=True)


def summary(result: WitnessResult) -> str:
    head = f"checkpoint {result.tree_size} (root {result.root_hash.hex()[:12]}\u2026)"
    if result.status == "first":
        return f"{head} stored: the first this witness keeps"
    if result.status == "unchanged":
        return f"{head} unchanged"
    return f"{head} consistent with {result.previous_size}"
