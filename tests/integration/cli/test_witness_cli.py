"""``ledger witness`` end to end against real served APIs: it keeps a checkpoint, accepts the log's
growth, and exits 1 with FORK when a rewritten history signed with the ledger's own key is served,
SHRINK when an older (smaller) log is; its state folder is private and written atomically.

Each ledger home shares one keys folder (``LEDGER_KEYS_DIR``): the forged homes' checkpoints are
signed by the ledger's real key under the ledger's name, as an operator rewriting history would."""

from __future__ import annotations

import json
import stat
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import cli.main  # registers every command on the app
import cli.witness  # noqa: F401  (registers `ledger witness`, until cli.main imports it)
from api.main import create_app
from cli.base import app
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from tests.e2e.conftest import free_port, serving

runner = CliRunner()


class Home:
    """A ledger home with the shared keys folder, its events appended directly and its checkpoints
    signed with `ledger checkpoint`."""

    def __init__(self, path: Path, keys: Path) -> None:
        self.settings = Settings(home=path, keys_dir=keys)
        self.env = {"LEDGER_HOME": str(path), "LEDGER_KEYS_DIR": str(keys), "LEDGER_LOG": "sqlite", "COLUMNS": "200"}
        assert self.cli("keys", "init", "--if-missing").exit_code == 0
        self.size = 0

    def cli(self, *args: str) -> Result:
        return runner.invoke(app, list(args), env=self.env)

    def grow(self, events: int, story: str) -> Home:
        """Appends ``events`` community registrations (their names tell the ``story``), signs the head."""
        ledger = Ledger(self.settings)
        try:
            for number in range(self.size + 1, self.size + events + 1):
                ledger.handle(c.RegisterCommunity(code=f"ZZ-HT-{number:03d}", name=f"{story} {number}",
                                                  city="Zhuzhou", district="Hetang", street="Jianshe Rd",
                                                  kind="urban_community"))
            self.size = ledger.head()
        finally:
            ledger.close()
        result = self.cli("checkpoint")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["tree_size"] == self.size
        return self

    def auditor_token(self, file: Path) -> Path:
        result = self.cli("tokens", "create", "--role", "auditor", "--label", "witness test")
        assert result.exit_code == 0, result.output
        file.write_text(result.stdout.strip() + "\n")
        return file

    @contextmanager
    def served(self) -> Iterator[str]:
        with serving(create_app(self.settings), self.settings.home) as server:
            yield server.url


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def witness(url: str, state: Path, *options: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["witness", "--url", url, "--state", str(state), *options], env=env or {})


def private_tree(state: Path) -> None:
    """Every folder 0700, every file 0600, no temporary file left behind."""
    for path in [state, *state.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
        assert not path.name.endswith(".tmp"), path


def verifier_key(url: str) -> str:
    """The verifier key the server publishes (``GET /v1/audit/public-key`` needs no token)."""
    with urllib.request.urlopen(f"{url}/v1/audit/public-key", timeout=10) as response:
        return str(json.loads(response.read())["verifier_key"])


def kept(state: Path) -> dict[str, bytes]:
    return {name: (state / name).read_bytes() for name in ("verifier-key.txt", "checkpoint.txt", "history.ndjson")}


def test_the_witness_keeps_a_checkpoint_accepts_growth_and_exits_1_on_a_forked_history(
    tmp_path: Path, keys: Path
) -> None:
    ledger = Home(tmp_path / "ledger", keys).grow(12, "Original")
    token = ledger.auditor_token(tmp_path / "auditor.token")
    state = tmp_path / "witness"
    with ledger.served() as url:
        first = witness(url, state, "--token-file", str(token))
        assert first.exit_code == 0, first.output
        assert first.stdout.startswith(f"checkpoint {ledger.size} (root ") and "stored" in first.stdout
        assert "trust on first use" in first.stderr

        ledger.grow(20, "Original")
        grown = witness(url, state, env={"LEDGER_TOKEN": token.read_text().strip()})
        assert grown.exit_code == 0, grown.output
        assert grown.stdout.strip().endswith("consistent with 12") and f"checkpoint {ledger.size} " in grown.stdout
        assert "trust on first use" not in grown.output
        again = witness(url, state, "--token-file", str(token))
        assert again.exit_code == 0 and "unchanged" in again.stdout, again.output
    private_tree(state)
    before = kept(state)
    assert (state / "checkpoint.txt").read_text().split("\n")[:2] == ["ledger", str(ledger.size)]

    forged = Home(tmp_path / "forged", keys).grow(ledger.size + 8, "Rewritten")  # more events, another past
    with forged.served() as url:
        forked = witness(url, state, "--token-file", str(forged.auditor_token(tmp_path / "forged.token")))
    assert forked.exit_code == 1
    assert forked.stderr.startswith("FORK: inconsistent:"), forked.output
    assert len(forked.stderr.strip().splitlines()) == 1 and forked.stdout == ""
    assert kept(state) == before
    evidence = sorted((state / "rejected").glob("*.txt"))
    assert [path.name.endswith(f"-{forged.size}.txt") for path in evidence] == [True]
    assert evidence[0].read_text().split("\n")[:2] == ["ledger", str(forged.size)]
    assert evidence[0].with_name(evidence[0].name.replace(".txt", ".proof.json")).exists()
    private_tree(state)


def test_a_served_log_of_the_same_size_with_another_history_is_a_fork(tmp_path: Path, keys: Path) -> None:
    ledger = Home(tmp_path / "ledger", keys).grow(10, "Original")
    state = tmp_path / "witness"
    with ledger.served() as url:
        assert witness(url, state, "--token-file", str(ledger.auditor_token(tmp_path / "t"))).exit_code == 0
    forged = Home(tmp_path / "forged", keys).grow(10, "Rewritten")
    with forged.served() as url:
        forked = witness(url, state, "--token-file", str(forged.auditor_token(tmp_path / "f")))
    assert forked.exit_code == 1 and forked.stderr.startswith("FORK: the served tree of 10 events"), forked.output


def test_a_served_log_behind_the_kept_checkpoint_is_a_shrink(tmp_path: Path, keys: Path) -> None:
    ledger = Home(tmp_path / "ledger", keys).grow(15, "Original")
    state = tmp_path / "witness"
    with ledger.served() as url:
        assert witness(url, state, "--token-file", str(ledger.auditor_token(tmp_path / "t"))).exit_code == 0
    before = kept(state)
    older = Home(tmp_path / "older", keys).grow(9, "Original")  # a log behind, as an older backup restored is
    with older.served() as url:
        shrunk = witness(url, state, "--token-file", str(older.auditor_token(tmp_path / "o")))
    assert shrunk.exit_code == 1
    assert shrunk.stderr.startswith("SHRINK: the served tree has 9 events, fewer than the 15"), shrunk.output
    assert kept(state) == before


def test_a_verifier_key_file_pins_the_key_and_another_key_is_refused(tmp_path: Path, keys: Path) -> None:
    ledger = Home(tmp_path / "ledger", keys).grow(5, "Original")
    token = str(ledger.auditor_token(tmp_path / "t"))
    state, other = tmp_path / "witness", tmp_path / "other-witness"
    key_file = tmp_path / "ledger.vkey"
    stranger = Home(tmp_path / "stranger", tmp_path / "stranger-keys").grow(5, "Original")
    with stranger.served() as url:
        key_file.write_text(verifier_key(url) + "\n")
    with ledger.served() as url:
        wrong = witness(url, other, "--token-file", token, "--verifier-key", str(key_file))
        assert wrong.exit_code == 1 and wrong.stderr.startswith("KEY CHANGED: the server now publishes"), wrong.output
        key_file.write_text(verifier_key(url) + "\n")
        pinned = witness(url, state, "--token-file", token, "--verifier-key", str(key_file))
        assert pinned.exit_code == 0 and "trust on first use" not in pinned.output, pinned.output
    assert (state / "verifier-key.txt").read_text() == key_file.read_text()
    with stranger.served() as url:  # a ledger of the same name with another key: refused before its note is read
        changed = witness(url, state, "--token-file", str(stranger.auditor_token(tmp_path / "s")))
    assert changed.exit_code == 1 and changed.stderr.startswith("KEY CHANGED:"), changed.output
    assert sorted(p.name.split("-", 1)[1] for p in (state / "rejected").iterdir()) == ["key.txt"]


def test_tokens_and_servers_that_fail_give_one_line_and_never_echo_the_token(tmp_path: Path, keys: Path) -> None:
    ledger = Home(tmp_path / "ledger", keys).grow(3, "Original")
    state = tmp_path / "witness"
    secret = "scl_0123456789abcdef_" + "x" * 43
    missing = witness("http://127.0.0.1:9", state, env={"LEDGER_TOKEN": ""})
    assert missing.exit_code == 1 and missing.stderr.startswith("error: no auditor token"), missing.output
    with ledger.served() as url:
        refused = witness(url, state, env={"LEDGER_TOKEN": secret})
        viewer = ledger.cli("tokens", "create", "--role", "viewer").stdout.strip()
        forbidden = witness(url, state, env={"LEDGER_TOKEN": viewer})
    down = witness(f"http://127.0.0.1:{free_port()}", state, env={"LEDGER_TOKEN": secret})
    assert refused.exit_code == 1 and "HTTP 401: Unauthorized" in refused.stderr, refused.output
    assert forbidden.exit_code == 1 and "HTTP 403" in forbidden.stderr, forbidden.output
    assert down.exit_code == 1 and down.stderr.startswith("error: cannot reach http://127.0.0.1:"), down.output
    for result in (missing, refused, forbidden, down):
        assert len(result.stderr.strip().splitlines()) == 1 and secret not in result.output
        assert viewer not in result.output
    assert not (state / "checkpoint.txt").exists()
