"""The token store on a real SQLite file: create once, authenticate, revoke, never store secrets."""

from __future__ import annotations

import hmac
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from api.auth import authenticate
from ledger import commands as c
from ledger.access import Principal, Role, Scope, check_write
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import AuthenticationError, InvalidInputError, LedgerError, NotFoundError
from ledger.tokens import TokenStore, auth_path


@pytest.fixture
def store(settings: Settings) -> TokenStore:
    return TokenStore.of(settings)


def test_the_store_lives_in_the_ledger_home(settings: Settings, store: TokenStore) -> None:
    assert store.path == auth_path(settings) == settings.home / "auth.db"
    assert not store.path.exists()  # nothing is created before first use
    store.create("viewer")
    assert store.path.exists()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_created_token_authenticates_as_its_principal(store: TokenStore) -> None:
    token, info = store.create(Role.AGENCY, "city:Changsha", label="Changsha agency desk")
    assert token.startswith(f"scl_{info.token_id}_")
    assert len(token.split("_", 2)[2]) == 43
    principal = store.authenticate(token)
    assert principal == Principal(info.token_id, Role.AGENCY, Scope.parse("city:Changsha"))
    assert principal.name == f"agency:city:Changsha#{info.token_id}"
    assert info.principal == principal
    assert (info.label, info.revoked) == ("Changsha agency desk", False)


def test_auditor_and_viewer_tokens_have_scope_all(store: TokenStore) -> None:
    token, info = store.create("auditor")
    assert str(info.scope) == "all"
    assert store.authenticate(token).role is Role.AUDITOR


@pytest.mark.parametrize(
    ("role", "scope"),
    [("agency", None), ("agency", "community:CS-YL-001"), ("community", "city:Changsha"), ("root", "all"),
     ("agency", "city:"), ("viewer", "city:Changsha")],
)
def test_a_bad_role_or_scope_creates_nothing(store: TokenStore, role: str, scope: str | None) -> None:
    with pytest.raises(InvalidInputError):
        store.create(role, scope)
    assert not store.path.exists() or store.list() == []


def test_every_token_is_different(store: TokenStore) -> None:
    made = [store.create("viewer") for _ in range(20)]
    assert len({token for token, _ in made}) == len({info.token_id for _, info in made}) == 20


def test_the_database_never_contains_the_secret(store: TokenStore) -> None:
    made = [store.create("community", "community:CS-YL-001") for _ in range(5)]
    raw = store.path.read_bytes()
    for path in store.path.parent.glob("auth.db*"):
        raw += path.read_bytes()
    for token, info in made:
        secret = token.split("_", 2)[2]
        assert secret.encode() not in raw
        assert token.encode() not in raw
        assert info.token_id.encode() in raw  # the public id is stored (sanity check of the search)


def test_list_shows_every_token_without_secrets(store: TokenStore) -> None:
    first, a = store.create("agency", "city:Zhuzhou", label="a")
    _, b = store.create("viewer", label="b")
    store.revoke(a.token_id)
    listed = store.list()
    assert [i.token_id for i in listed] == [a.token_id, b.token_id]
    assert [i.revoked for i in listed] == [True, False]
    assert first.split("_", 2)[2] not in repr(listed)
    assert store.get(b.token_id) == b


def test_get_of_an_unknown_token_is_not_found(store: TokenStore) -> None:
    store.create("viewer")
    with pytest.raises(NotFoundError):
        store.get("0000000000000000")


def test_a_revoked_token_no_longer_authenticates(store: TokenStore) -> None:
    token, info = store.create("agency", "city:Changde")
    other, _ = store.create("agency", "city:Changde")
    assert store.revoke(info.token_id) is True
    with pytest.raises(AuthenticationError):
        store.authenticate(token)
    assert store.authenticate(other).role is Role.AGENCY  # others are untouched
    assert store.get(info.token_id).revoked_at is not None


def test_revoking_twice_or_an_unknown_id_returns_false(store: TokenStore) -> None:
    _, info = store.create("viewer")
    assert store.revoke(info.token_id) is True
    assert store.revoke(info.token_id) is False
    assert store.revoke("ffffffffffffffff") is False
    assert store.revoke("not-an-id") is False


def test_revocation_is_seen_by_another_store_on_the_same_file(store: TokenStore) -> None:
    token, info = store.create("viewer")
    server_side = TokenStore(store.path)
    assert server_side.authenticate(token).token_id == info.token_id
    store.revoke(info.token_id)
    with pytest.raises(AuthenticationError):
        server_side.authenticate(token)


def test_a_wrong_secret_for_a_known_id_is_refused(store: TokenStore) -> None:
    token, info = store.create("viewer")
    secret = token.split("_", 2)[2]
    forged = f"scl_{info.token_id}_{('A' if secret[0] != 'A' else 'B')}{secret[1:]}"
    with pytest.raises(AuthenticationError):
        store.authenticate(forged)


def test_a_well_formed_token_with_an_unknown_id_is_refused(store: TokenStore) -> None:
    token, _ = store.create("viewer")
    with pytest.raises(AuthenticationError):
        store.authenticate("scl_0000000000000000_" + token.split("_", 2)[2])


@pytest.mark.parametrize(
    "token",
    [
        "",
        "scl_",
        "Bearer scl_0123456789abcdef_" + "a" * 43,
        "scl_0123456789abcdef_" + "a" * 42,
        "scl_0123456789abcdef_" + "a" * 44,
        "scl_0123456789ABCDEF_" + "a" * 43,
        "xyz_0123456789abcdef_" + "a" * 43,
        "scl_0123456789abcde_" + "a" * 44,
        "scl_0123456789abcdef_" + "a" * 42 + "=",
        "scl_0123456789abcdef_" + "a" * 43 + "\n",
        "scl_0123456789abcdef_" + "a" * 10_000,
        "scl_0123456789abcdef_" + "é" * 43,
    ],
)
def test_malformed_tokens_are_refused_without_echoing_them(store: TokenStore, token: str) -> None:
    store.create("viewer")
    with pytest.raises(AuthenticationError) as caught:
        store.authenticate(token)
    assert isinstance(caught.value, LedgerError)
    assert caught.value.code == "unauthorized"
    assert "aaaa" not in caught.value.detail


def test_the_secret_hash_is_compared_with_compare_digest(store: TokenStore, monkeypatch: pytest.MonkeyPatch) -> None:
    token, _ = store.create("viewer")
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # ledger.tokens calls hmac.compare_digest
    store.authenticate(token)
    assert len(calls) == 1
    with pytest.raises(AuthenticationError):
        store.authenticate("scl_0000000000000000_" + token.split("_", 2)[2])
    assert len(calls) == 2  # an unknown id is compared too (against a dummy), not answered early


def test_created_and_revoked_times_come_from_the_clock(tmp_path: Path) -> None:
    moments = iter([datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 2, 1, 9, tzinfo=UTC)])
    store = TokenStore(tmp_path / "auth.db", clock=lambda: next(moments))
    _, info = store.create("viewer")
    store.revoke(info.token_id)
    again = store.get(info.token_id)
    assert again.created_at == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert again.revoked_at == datetime(2026, 2, 1, 9, tzinfo=UTC)


def test_a_label_must_be_short_printable_text(store: TokenStore) -> None:
    with pytest.raises(InvalidInputError):
        store.create("viewer", label="x" * 201)
    with pytest.raises(InvalidInputError):
        store.create("viewer", label="line\nbreak")


def test_events_record_the_principal_that_wrote_them(store: TokenStore, ledger: Ledger) -> None:
    token, _ = store.create("agency", "city:Changsha")
    principal = store.authenticate(token)
    command = c.RegisterCommunity(
        code="CS-YL-001", name="Yuelu One", city="Changsha", district="Yuelu", street="Lushan", kind="urban_community"
    )
    check_write(principal, command)
    appended = ledger.handle(command, c.Context(principal=principal.name, today=date(2026, 6, 30)))
    [entry] = ledger.history(ledger.community(appended.id).id)
    assert entry.recorded_by == principal.name
    assert token.split("_", 2)[2] not in entry.recorded_by


def test_authentication_needs_a_valid_unrevoked_token(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "auth.db")
    token, info = store.create("viewer")
    assert authenticate(store, token).principal == info.principal
    for credentials in (None, "", "scl_nope", token + "x"):
        with pytest.raises(AuthenticationError):
            authenticate(store, credentials)
    store.revoke(info.token_id)
    with pytest.raises(AuthenticationError):
        authenticate(store, token)
