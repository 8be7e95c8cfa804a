"""The witness's logic against a fake server holding real signed notes, real RFC 9162 roots and real
consistency proofs: first run, growth, no change, forks, shrinks, bad proofs, foreign signatures, key
changes, and state that only ever changes on success. The state is in memory (unit tests touch no disk);
the state folder itself (modes, atomic files) is tested in tests/integration/cli/test_witness_cli.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from hashlib import sha256
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import IntegrityViolationError, LedgerError
from ledger.integrity import merkle, note
from ledger.integrity.witness import (
    BadCheckpointError,
    ForkError,
    KeyChangedError,
    ShrinkError,
    Witness,
    WitnessError,
    WitnessFetchError,
    WitnessResult,
)

NAME = "ledger"


def leaves(count: int, fork: str = "") -> list[bytes]:
    return [sha256(f"{fork}event {seq}".encode()).digest() for seq in range(1, count + 1)]


class FakeServer:
    """Serves ``/v1/audit/...`` as the API does, from a list of chain hashes signed by ``key``."""

    def __init__(self, chain: list[bytes], key: Ed25519PrivateKey, name: str = NAME) -> None:
        self.chain, self.key, self.name = chain, key, name
        self.published: str = str(verifier(key, name))
        self.note_override: bytes | None = None
        self.proof_override: Callable[[list[str]], object] | None = None
        self.paths: list[str] = []

    def node(self, level: int, index: int) -> bytes:
        frontier = merkle.Frontier()
        for chain_hash in self.chain[index << level:(index + 1) << level]:
            frontier.append(chain_hash)
        return frontier.root()

    def root(self, size: int | None = None) -> bytes:
        return merkle.root(self.node, len(self.chain) if size is None else size)

    def note(self, origin: str | None = None) -> str:
        text = note.CheckpointText(origin or self.name, len(self.chain), self.root(),
                                   ("time 2026-06-30T08:00:00Z", "chain " + self.chain[-1].hex()))
        return note.sign(str(text), self.name, self.key)

    def __call__(self, path: str) -> tuple[int, bytes]:
        self.paths.append(path)
        url = urlsplit(path)
        if url.path == "/v1/audit/public-key":
            return 200, json.dumps({"algorithm": "Ed25519", "pem": "...", "verifier_key": self.published}).encode()
        if url.path == "/v1/audit/checkpoint":
            return 200, self.note_override if self.note_override is not None else self.note().encode()
        if url.path == "/v1/audit/proof/consistency":
            query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
            hashes = [h.hex() for h in merkle.consistency_path(self.node, query["first"], query["second"])]
            body = self.proof_override(hashes) if self.proof_override else {**query, "consistency_path": hashes}
            return 200, json.dumps(body).encode()
        return 404, json.dumps({"title": "Not Found", "detail": "no such route"}).encode()


class MemoryState:
    """``ledger.integrity.witness.State`` in a dict."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)

    def write(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def append(self, name: str, line: bytes) -> None:
        self.files[name] = self.files.get(name, b"") + line

    def where(self, name: str) -> str:
        return f"memory:{name}"


def verifier(key: Ed25519PrivateKey, name: str = NAME) -> note.Verifier:
    return note.Verifier.of(name, key.public_key().public_bytes_raw())


def clock() -> datetime:
    return datetime(2026, 6, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


def run(server: FakeServer, state: MemoryState, pin: str | None = None) -> WitnessResult:
    return Witness(server, state, clock=clock).run(pin)


def snapshot(state: MemoryState) -> dict[str, bytes]:
    """Every state file but the rejected evidence."""
    return {name: data for name, data in state.files.items() if not name.startswith("rejected/")}


def rejected(state: MemoryState) -> list[str]:
    return sorted(name for name in state.files if name.startswith("rejected/"))


def history(state: MemoryState) -> list[dict[str, object]]:
    return [json.loads(line) for line in state.files["history.ndjson"].splitlines()]


def test_the_first_run_trusts_the_servers_key_and_stores_the_note_verbatim(key: Ed25519PrivateKey,
                                                                           state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)

    result = Witness(server, state, clock=clock).run()

    assert (result.status, result.tree_size, result.previous_size) == ("first", 10, None)
    assert result.trusted_on_first_use and result.root_hash == server.root()
    assert state.files["verifier-key.txt"] == f"{verifier(key)}\n".encode()
    assert state.files["checkpoint.txt"] == server.note().encode()
    assert history(state) == [{"time": "2026-06-30T08:00:00Z", "status": "first", "tree_size": 10,
                               "root_hash": server.root().hex()}]


def test_a_given_verifier_key_is_pinned_without_trusting_the_server(key: Ed25519PrivateKey,
                                                                    state: MemoryState) -> None:
    result = run(FakeServer(leaves(3), key), state, f" {verifier(key)}\n")

    assert result.status == "first" and not result.trusted_on_first_use
    assert state.files["verifier-key.txt"] == f"{verifier(key)}\n".encode()


def test_a_grown_log_is_accepted_with_a_valid_consistency_proof(key: Ed25519PrivateKey, state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)
    run(server, state)
    server.chain = leaves(37)

    result = Witness(server, state, clock=clock).run()

    assert (result.status, result.previous_size, result.tree_size) == ("grown", 10, 37)
    assert not result.trusted_on_first_use
    assert "/v1/audit/proof/consistency?first=10&second=37" in server.paths
    assert state.files["checkpoint.txt"] == server.note().encode()
    assert [line["tree_size"] for line in history(state)] == [10, 37]


def test_an_unchanged_log_is_recorded_as_seen_again(key: Ed25519PrivateKey, state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)
    run(server, state)

    result = Witness(server, state, clock=clock).run()

    assert (result.status, result.previous_size, result.tree_size) == ("unchanged", 10, 10)
    assert [line["status"] for line in history(state)] == ["first", "unchanged"]


# ---- refusals: each one changes nothing but the evidence under rejected/ -------------------------------


def fork_same_size(server: FakeServer) -> None:
    server.chain = leaves(10, fork="rewritten ")


def fork_larger(server: FakeServer) -> None:
    server.chain = leaves(10, fork="rewritten ") + leaves(30)[10:]


def shrink(server: FakeServer) -> None:
    server.chain = leaves(6)


def bad_proof(server: FakeServer) -> None:
    server.chain = leaves(20)
    server.proof_override = lambda path: {"first": 10, "second": 20, "consistency_path": [path[0][::-1], *path[1:]]}


def short_proof(server: FakeServer) -> None:
    server.chain = leaves(20)
    server.proof_override = lambda path: {"first": 10, "second": 20, "consistency_path": path[:-1]}


def malformed_proof(server: FakeServer) -> None:
    server.chain = leaves(20)
    server.proof_override = lambda path: {"first": 10, "second": 20, "consistency_path": "zz"}


def another_key(server: FakeServer) -> None:  # the published key is still the pinned one
    server.chain, server.key = leaves(20), Ed25519PrivateKey.generate()


def key_changed(server: FakeServer) -> None:
    server.chain, server.key = leaves(20), Ed25519PrivateKey.generate()
    server.published = str(verifier(server.key))


def wrong_origin(server: FakeServer) -> None:
    server.chain = leaves(20)
    server.note_override = server.note(origin="elsewhere.example").encode()


def malformed_note(server: FakeServer) -> None:
    server.note_override = b"ledger\n20\nnot base64!\n\n\xe2\x80\x94 ledger AAAA\n"


def altered_note(server: FakeServer) -> None:
    server.chain = leaves(20)
    server.note_override = server.note().replace("\n20\n", "\n21\n").encode()


@pytest.mark.parametrize(("change", "error", "words"), [
    (fork_same_size, ForkError, "two histories of the same size"),
    (fork_larger, ForkError, "inconsistent"),
    (shrink, ShrinkError, "fewer than the 10"),
    (bad_proof, ForkError, "does not verify"),
    (short_proof, ForkError, "does not verify"),
    (malformed_proof, ForkError, "is malformed"),
    (another_key, BadCheckpointError, "no signature by the given key"),
    (key_changed, KeyChangedError, "now publishes the key"),
    (wrong_origin, BadCheckpointError, "origin"),
    (malformed_note, BadCheckpointError, "refused"),
    (altered_note, BadCheckpointError, "invalid signature"),
])
def test_a_refused_checkpoint_changes_no_state_and_is_kept_as_evidence(
    key: Ed25519PrivateKey, state: MemoryState, change: Callable[[FakeServer], None], error: type[WitnessError],
    words: str,
) -> None:
    server = FakeServer(leaves(10), key)
    run(server, state)
    before = snapshot(state)
    change(server)

    with pytest.raises(error, match=words) as raised:
        run(server, state)

    assert isinstance(raised.value, IntegrityViolationError)
    assert snapshot(state) == before
    evidence = raised.value.evidence
    tag = "key" if error is KeyChangedError else "unparsed" if error is BadCheckpointError else len(server.chain)
    assert evidence == f"memory:rejected/20260630T080000.000000Z-{tag}.txt"
    served = server.published.encode() + b"\n" if error is KeyChangedError else server(  # the offending note
        "/v1/audit/checkpoint")[1]
    assert state.files[evidence.removeprefix("memory:")] == served
    proofs = [name for name in rejected(state) if name.endswith(".proof.json")]
    assert len(proofs) == (error is ForkError and words != "two histories of the same size")
    assert all(json.loads(state.files[name])["first"] == 10 for name in proofs)


def test_a_refused_first_run_pins_nothing(key: Ed25519PrivateKey, state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)
    another_key(server)

    with pytest.raises(BadCheckpointError):
        run(server, state)

    assert snapshot(state) == {}
    assert len(rejected(state)) == 1


def test_a_verifier_key_other_than_the_pinned_one_is_a_key_change(key: Ed25519PrivateKey, state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)
    run(server, state)
    before = snapshot(state)

    with pytest.raises(KeyChangedError, match="--verifier-key differs"):
        run(server, state, str(verifier(Ed25519PrivateKey.generate())))
    assert snapshot(state) == before
    assert run(server, state, str(verifier(key))).status == "unchanged"


def test_a_pinned_key_the_server_does_not_publish_fails_the_first_run(key: Ed25519PrivateKey,
                                                                      state: MemoryState) -> None:
    with pytest.raises(KeyChangedError):
        run(FakeServer(leaves(10), key), state, str(verifier(Ed25519PrivateKey.generate())))
    assert snapshot(state) == {}


def test_http_errors_are_not_integrity_failures_and_name_the_problem(state: MemoryState) -> None:
    def unauthorized(path: str) -> tuple[int, bytes]:
        return 401, json.dumps({"title": "Unauthorized", "detail": "no valid bearer token\x1b[2J"}).encode()

    with pytest.raises(WitnessFetchError) as raised:
        Witness(unauthorized, state).run()

    assert not isinstance(raised.value, IntegrityViolationError) and isinstance(raised.value, LedgerError)
    assert raised.value.detail == "/v1/audit/public-key: HTTP 401: Unauthorized: no valid bearer token [2J"
    assert state.files == {}


def test_a_damaged_stored_checkpoint_is_reported_not_overwritten(key: Ed25519PrivateKey, state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)
    run(server, state)
    state.files["checkpoint.txt"] = server.note().replace("\n10\n", "\n11\n").encode()

    with pytest.raises(LedgerError, match="does not open with the pinned key"):
        run(server, state)


def test_a_proof_the_server_fails_to_give_is_an_http_error_and_changes_nothing(key: Ed25519PrivateKey,
                                                                               state: MemoryState) -> None:
    server = FakeServer(leaves(10), key)
    run(server, state)
    before = dict(state.files)
    server.chain = leaves(12)

    def no_proofs(path: str) -> tuple[int, bytes]:
        return (503, b"down") if "consistency" in path else server(path)

    with pytest.raises(WitnessFetchError, match=r"^/v1/audit/proof/consistency: HTTP 503$"):
        Witness(no_proofs, state, clock=clock).run()
    assert state.files == before


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"verifier_key": 7}', b'{"verifier_key": "ledger+00+AA"}'])
def test_a_public_key_answer_without_a_verifier_key_is_refused(state: MemoryState, body: bytes) -> None:
    with pytest.raises(WitnessFetchError, match="no valid verifier_key"):
        Witness(lambda path: (200, body), state).run()
    assert state.files == {}
