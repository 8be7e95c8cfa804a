"""A witness: an auditor's own copy of the ledger's latest signed checkpoint, checked at every run.

Pure logic over a ``fetch(path) -> (status, body)`` callable (the CLI supplies one over HTTP, tests a
fake) and a ``State`` of named files (``DirectoryState``: a folder). Each run:

1. loads the state and the pinned verifier key (``--verifier-key``, else the state's copy, else the
   server's ``/v1/audit/public-key``: trust on first use) and checks that the server still publishes
   that key;
2. fetches ``/v1/audit/checkpoint`` (a C2SP tlog-checkpoint note), opens it with the pinned key and
   checks its origin is the key's name (the ledger's name);
3. compares it with the checkpoint it stored last: the same tree is "unchanged", a larger one must
   come with an RFC 9162 consistency proof from the stored tree; the same size with another root,
   a proof that does not verify (a fork) or a smaller tree (a rollback) is refused;
4. on success stores the note and appends a line to the history; on a refusal changes nothing but
   keeps the offending note under ``rejected/`` as evidence.

State folder (0700, files 0600, each file replaced atomically): ``verifier-key.txt``,
``checkpoint.txt`` (the latest accepted note, verbatim), ``history.ndjson`` (one JSON line per
accepted run: ``time``, ``status``, ``tree_size``, ``root_hash`` hex) and ``rejected/<time>-<size>.txt``
(with ``.proof.json`` beside it for a proof that did not verify; ``<time>-key.txt`` for a changed key).
Runs are not locked against each other: schedule them so they do not overlap.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from ledger.errors import IntegrityViolationError, InvalidInputError, LedgerError
from ledger.files import FILE_MODE, private_folder
from ledger.integrity.merkle import verify_consistency
from ledger.integrity.note import CheckpointText, NoteError, Verifier, open_note

Fetch = Callable[[str], tuple[int, bytes]]
"""GETs a path under the server's base URL: ``(HTTP status, body)``; raises ``WitnessFetchError`` when
the server cannot be reached."""

PUBLIC_KEY_PATH = "/v1/audit/public-key"
CHECKPOINT_PATH = "/v1/audit/checkpoint"
KEY_FILE, CHECKPOINT_FILE = "verifier-key.txt", "checkpoint.txt"
HISTORY_FILE, REJECTED_DIR = "history.ndjson", "rejected"

Status = Literal["first", "unchanged", "grown"]


class WitnessError(IntegrityViolationError):
    """The server's checkpoint is refused; ``label`` opens the CLI's line (``FORK: ...``)."""

    label: ClassVar[str] = "REJECTED"
    evidence: str | None = None  # where the offending note was kept


class ForkError(WitnessError):
    """The served tree does not extend the stored one: same size and another root, or no valid proof."""

    label = "FORK"


class ShrinkError(WitnessError):
    """The served tree is smaller than the stored one (a rollback, an older backup restored)."""

    label = "SHRINK"


class KeyChangedError(WitnessError):
    """The server publishes another key than the pinned one (or ``--verifier-key`` differs from the state's)."""

    label = "KEY CHANGED"


class BadCheckpointError(WitnessError):
    """The note is malformed, not signed by the pinned key, or names another origin."""

    label = "BAD CHECKPOINT"


class WitnessFetchError(LedgerError):
    """The server cannot be reached, answers with an HTTP error or with something unreadable."""

    code = "witness-fetch-failed"


class WitnessStateError(LedgerError):
    """The state folder is damaged (its checkpoint no longer opens with its own key)."""

    code = "witness-state-damaged"


class State(Protocol):
    """The witness's files by name (``rejected/...`` included): ``DirectoryState`` on disk."""

    def read(self, name: str) -> bytes | None:
        """The file's content, None when it does not exist."""

    def write(self, name: str, data: bytes) -> None:
        """Replaces the file atomically (all or nothing)."""

    def append(self, name: str, line: bytes) -> None: ...

    def where(self, name: str) -> str:
        """The file's location, for messages."""


class DirectoryState:
    """A state folder: 0700 folders, 0600 files, each written to a temporary file then ``os.replace``d."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, name: str) -> bytes | None:
        file = self.path / name
        return file.read_bytes() if file.exists() else None

    def write(self, name: str, data: bytes) -> None:
        _write_atomic(self._folder(name) / Path(name).name, data)

    def append(self, name: str, line: bytes) -> None:
        fd = os.open(self._folder(name) / Path(name).name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def where(self, name: str) -> str:
        return str(self.path / name)

    def _folder(self, name: str) -> Path:
        folder = private_folder(self.path)
        for part in Path(name).parent.parts:
            folder = private_folder(folder / part)
        return folder


@dataclass(frozen=True)
class Seen:
    """An opened checkpoint note: its verbatim text and what it says."""

    note: str
    tree_size: int
    root_hash: bytes


@dataclass(frozen=True)
class WitnessResult:
    status: Status
    tree_size: int
    root_hash: bytes
    previous_size: int | None  # None on the first run
    verifier_key: str
    trusted_on_first_use: bool  # this run pinned the server's own key


class Witness:
    """One state (a folder), checked against one server; ``run()`` once per invocation (from cron, say)."""

    def __init__(self, fetch: Fetch, state: State | Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.fetch, self.clock = fetch, clock
        self.state = DirectoryState(state) if isinstance(state, Path) else state

    def run(self, verifier_key: str | None = None) -> WitnessResult:
        """Checks the server's latest checkpoint (``verifier_key``: the key to pin on the first run)."""
        pinned, pin_now = self._pinned(verifier_key)
        stored = self._stored(pinned)
        served = self._served_key()
        if pinned is None:  # trust on first use: the server's own key
            pinned = served
        elif served != pinned:
            raise self._rejected(KeyChangedError(f"the server now publishes the key {served}, not the pinned "
                                                 f"{pinned}"), "key", f"{served}\n".encode())
        new = self._open(self._get(CHECKPOINT_PATH), pinned)
        status = self._compare(stored, new)
        if pin_now:
            self.state.write(KEY_FILE, f"{pinned}\n".encode())
        if status != "unchanged":
            self.state.write(CHECKPOINT_FILE, new.note.encode())
        self._append_history(status, new)
        return WitnessResult(status, new.tree_size, new.root_hash, stored.tree_size if stored else None,
                             str(pinned), pin_now and verifier_key is None)

    # ---- steps ------------------------------------------------------------------------------------

    def _pinned(self, given: str | None) -> tuple[Verifier | None, bool]:
        """``(pinned key or None for trust on first use, write it to the state)``: the state's key wins;
        a different ``given`` one is a key change."""
        wanted = _verifier(given, InvalidInputError, "--verifier-key") if given is not None else None
        key_file = self.state.read(KEY_FILE)
        if key_file is not None:
            kept = _verifier(key_file.decode(errors="replace"), WitnessStateError, self.state.where(KEY_FILE))
            if wanted is not None and wanted != kept:
                raise KeyChangedError(f"--verifier-key differs from the key pinned in {self.state.where(KEY_FILE)}: "
                                      f"{kept}")
            return kept, False
        if self.state.read(CHECKPOINT_FILE) is not None:
            raise WitnessStateError(f"{self.state.where(CHECKPOINT_FILE)} is there but {KEY_FILE} is missing")
        return wanted, True

    def _stored(self, verifier: Verifier | None) -> Seen | None:
        stored = self.state.read(CHECKPOINT_FILE)
        if verifier is None or stored is None:
            return None
        try:
            return _opened(_text(stored, CHECKPOINT_FILE), verifier)
        except NoteError as error:
            raise WitnessStateError(f"the stored {self.state.where(CHECKPOINT_FILE)} does not open with the pinned "
                                    f"key: {error}") from None

    def _served_key(self) -> Verifier:
        """The ``verifier_key`` the server publishes."""
        try:
            key = json.loads(self._get(PUBLIC_KEY_PATH))["verifier_key"]
            return Verifier.parse(key)
        except (ValueError, KeyError, TypeError, AttributeError):  # NoteError is a ValueError
            raise WitnessFetchError(f"{PUBLIC_KEY_PATH}: the answer holds no valid verifier_key") from None

    def _open(self, body: bytes, verifier: Verifier) -> Seen:
        try:
            return _opened(_text(body, "the note"), verifier)
        except NoteError as error:
            raise self._rejected(BadCheckpointError(f"the served checkpoint is refused: {error}"), "unparsed",
                                 body) from None

    def _compare(self, stored: Seen | None, new: Seen) -> Status:
        if stored is None:
            return "first"
        note = new.note.encode()
        if new.tree_size < stored.tree_size:
            raise self._rejected(ShrinkError(
                f"the served tree has {new.tree_size} events, fewer than the {stored.tree_size} of the checkpoint "
                "stored earlier (a rollback or an older backup)"), new.tree_size, note)
        if new.tree_size == stored.tree_size:
            if new.root_hash != stored.root_hash:
                raise self._rejected(ForkError(
                    f"the served tree of {new.tree_size} events has root {new.root_hash.hex()}, the stored one "
                    f"{stored.root_hash.hex()}: two histories of the same size"), new.tree_size, note)
            return "unchanged"
        if stored.tree_size == 0:  # the empty tree is a prefix of every tree
            return "grown"
        path = f"/v1/audit/proof/consistency?first={stored.tree_size}&second={new.tree_size}"
        status, body = self.fetch(path)
        proof = _consistency_path(_ok(path, status, body), stored.tree_size, new.tree_size)
        if proof is None or not verify_consistency(stored.tree_size, new.tree_size, stored.root_hash,
                                                   new.root_hash, proof):
            why = "is malformed" if proof is None else "does not verify"
            raise self._rejected(ForkError(
                f"inconsistent: the proof that the tree of {new.tree_size} events extends the stored tree of "
                f"{stored.tree_size} {why}: the history was rewritten"), new.tree_size, note, body)
        return "grown"

    # ---- files ------------------------------------------------------------------------------------

    def _get(self, path: str) -> bytes:
        status, body = self.fetch(path)
        return _ok(path, status, body)

    def _rejected(self, error: WitnessError, tag: int | str, served: bytes, proof: bytes | None = None
                  ) -> WitnessError:
        """Keeps what the server served (the note, or its new key; the proof) as
        ``rejected/<time>-<tree size or tag>.txt``; returns ``error`` to raise."""
        stem = f"{REJECTED_DIR}/{self.clock().strftime('%Y%m%dT%H%M%S.%fZ')}-{tag}"
        self.state.write(f"{stem}.txt", served)
        if proof is not None:
            self.state.write(f"{stem}.proof.json", proof)
        error.evidence = self.state.where(f"{stem}.txt")
        return error

    def _append_history(self, status: Status, seen: Seen) -> None:
        line = json.dumps({"time": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"), "status": status,
                           "tree_size": seen.tree_size, "root_hash": seen.root_hash.hex()})
        self.state.append(HISTORY_FILE, line.encode() + b"\n")


def read_verifier_key(value: str) -> str:
    """``--verifier-key``: a verifier key, or the path of a file holding one."""
    path = Path(value)
    return path.read_text().strip() if "+" not in value and path.is_file() else value.strip()


def _verifier(text: str, error: type[LedgerError], what: str) -> Verifier:
    try:
        return Verifier.parse(text)
    except NoteError as problem:
        raise error(f"{what} is not a signed-note verifier key: {problem}") from None


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise NoteError(f"{what} is not UTF-8") from None


def _opened(note: str, verifier: Verifier) -> Seen:
    body = CheckpointText.parse(open_note(note, verifier))
    if body.origin != verifier.name:
        raise NoteError(f"its origin is {body.origin!r}, not the pinned key's {verifier.name!r}")
    if len(body.root_hash) != 32:
        raise NoteError("its root hash is not 32 bytes")
    return Seen(note, body.tree_size, body.root_hash)


def _ok(path: str, status: int, body: bytes) -> bytes:
    """``body`` of a 200; else ``WitnessFetchError`` naming the problem's title and detail when present."""
    if status == 200:
        return body
    try:
        problem = json.loads(body)
        words = [_printable(problem[k]) for k in ("title", "detail") if isinstance(problem, dict) and problem.get(k)]
    except ValueError:
        words = []
    raise WitnessFetchError(f"{path.partition('?')[0]}: HTTP {status}{': ' + ': '.join(words) if words else ''}")


def _printable(value: object, limit: int = 200) -> str:
    """Server-supplied text for a terminal line: printable characters only, at most ``limit``."""
    text = "".join(char if char.isprintable() else " " for char in str(value))
    return text if len(text) <= limit else text[:limit] + "\u2026"


def _consistency_path(body: bytes, first: int, second: int) -> list[bytes] | None:
    try:
        data = json.loads(body)
        if data["first"] != first or data["second"] != second:
            return None
        path = [bytes.fromhex(item) for item in data["consistency_path"]]
    except (ValueError, KeyError, TypeError):
        return None
    return path if all(len(item) == 32 for item in path) else None


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes ``path`` (mode 0600) through a temporary file beside it and ``os.replace``."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), FILE_MODE)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
