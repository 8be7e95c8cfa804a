"""C2SP signed notes and tlog checkpoints against the published examples: Go's ``sumdb/note`` test
keys and notes (golang.org/x/mod), and the example checkpoint of c2sp.org/tlog-checkpoint."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.integrity import note

PETER_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6R"
             "yyBwJnAM=\n")
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1R"
             "vMc+QQ=\n")
SPEC_CHECKPOINT = ("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
                   "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcy"
                   "v2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")


def peter_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(PETER_SIGNER.split("+", 4)[4])  # PRIVATE+KEY+name+id+base64(0x01 || seed)
    assert seed[0] == note.ED25519
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_signing_the_go_example_gives_byte_for_byte_the_published_note() -> None:
    assert note.sign(TEXT, "PeterNeumann", peter_key()) == TEXT + "\n" + PETER_SIG


def test_the_published_verifier_keys_parse_and_print_back_unchanged() -> None:
    for text in (PETER, ENOCH):
        assert str(note.Verifier.parse(text)) == text
    assert str(note.Verifier.of("PeterNeumann", peter_key().public_key().public_bytes_raw())) == PETER


def test_a_note_with_two_signatures_opens_with_either_key_and_ignores_the_other() -> None:
    signed = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert note.open_note(signed, note.Verifier.parse(PETER)) == TEXT
    assert note.open_note(signed, note.Verifier.parse(ENOCH)) == TEXT


@pytest.mark.parametrize("mangled", [
    TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:],           # altered signature
    TEXT.replace("problem,", "problem!") + "\n" + PETER_SIG,           # altered text
    TEXT + "\n" + ENOCH_SIG,                                          # no signature by this key
    TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "CarmenSandiego"),  # another name, same ID
    TEXT, TEXT + "\n", TEXT + "\n" + PETER_SIG[:-1], "\x01" + TEXT + "\n" + PETER_SIG,
    TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
])
def test_a_mangled_note_or_one_not_signed_by_the_key_is_refused(mangled: str) -> None:
    with pytest.raises(note.NoteError):
        note.open_note(mangled, note.Verifier.parse(PETER))


@pytest.mark.parametrize("bad", [PETER[:-1], PETER.replace("c74f20a3", "c74f20a4"), "Peter Neumann+c74f20a3+AR",
                                 PETER.replace("+AR", "+ZR"), "PeterNeumann+c74f20a3"])
def test_a_mangled_verifier_key_is_refused(bad: str) -> None:
    with pytest.raises(note.NoteError):
        note.Verifier.parse(bad)


def test_the_spec_example_checkpoint_round_trips_and_names_its_key() -> None:
    text, signatures = note.split(SPEC_CHECKPOINT)
    body = note.CheckpointText.parse(text)
    assert (body.origin, body.tree_size, len(body.root_hash), body.extensions) == (
        "example.com/behind-the-sofa", 20852163, 32, ())
    assert str(body) == text
    assert [name for name, _ in signatures] == ["example.com/behind-the-sofa"]
    unknown = note.Verifier.of("example.com/behind-the-sofa", peter_key().public_key().public_bytes_raw())
    with pytest.raises(note.NoteError, match="no signature by the given key"):
        note.open_note(SPEC_CHECKPOINT, unknown)  # its key is not published: an unknown key is never trusted


def test_a_checkpoint_we_sign_opens_with_our_verifier_key_and_keeps_its_extension_lines() -> None:
    key = Ed25519PrivateKey.generate()
    body = note.CheckpointText("ledger.example/changsha", 5, bytes(range(32)), ("time 2026-06-30T08:00:00Z",))
    signed = note.sign(str(body), "ledger.example/changsha", key)
    public = key.public_key().public_bytes_raw()
    verifier = note.Verifier.parse(str(note.Verifier.of("ledger.example/changsha", public)))
    assert note.CheckpointText.parse(note.open_note(signed, verifier)) == body


@pytest.mark.parametrize("text", ["origin\n5\n", "origin\n05\nAAAA\n", "origin\n-1\nAAAA\n", "origin\n5\n!!\n",
                                  "origin\n5\nAAAA\n\nx\n", "origin\n5\nAAAA"])
def test_a_malformed_checkpoint_body_is_refused(text: str) -> None:
    with pytest.raises(note.NoteError):
        note.CheckpointText.parse(text)
