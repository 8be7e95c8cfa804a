"""``/v1/audit``: checkpoints carry the tree head, the latest one is a C2SP signed note that opens with
the published verifier key, and the proofs check against its root with an RFC 9162 verifier."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings
from ledger.integrity import note
from ledger.integrity.checkpoints import init_signing_key
from tests.integration.api.test_app import COMMUNITY, LOCAL, STAFF
from tests.unit.ledger.integrity.rfc9162 import h, verify_consistency, verify_inclusion


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    init_signing_key(settings)
    with TestClient(create_app(settings, dev_mode=True, checkpoint_every=2), base_url=LOCAL) as client:
        yield client


def test_before_anything_is_signed_the_latest_checkpoint_and_the_note_are_404(client: TestClient) -> None:
    for path in ("/v1/audit/checkpoints/latest", "/v1/audit/checkpoint"):
        response = client.get(path)
        assert (response.status_code, response.headers["content-type"]) == (404, "application/problem+json")


def append_until(client: TestClient, head: int, checkpoints: int) -> None:
    """Appends staff events (after the community) up to seq ``head``, then waits until the follower signed
    ``checkpoints`` checkpoints: a checkpoint is signed at the head it sees, so each wait pins its size."""
    if client.get("/v1/log", params={"after": 0, "limit": 1}).json()["events"] == []:
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 201
    while (seq := client.get("/v1/log", params={"after": 0, "limit": 1000}).json()["events"][-1]["seq"]) < head:
        assert client.post("/v1/communities/ZZ-HT-001/events", json={**STAFF, "staff_id": f"s{seq}"}).status_code == 201
    deadline = time.monotonic() + 10
    while len(client.get("/v1/audit/checkpoints").json()) < checkpoints:
        assert time.monotonic() < deadline, "no checkpoint signed"
        time.sleep(0.02)


def test_the_latest_checkpoint_is_a_signed_note_with_the_tree_head(client: TestClient) -> None:
    append_until(client, 2, 1)
    append_until(client, 4, 2)
    latest = client.get("/v1/audit/checkpoints/latest").json()
    head = client.get("/v1/audit/tree-head").json()
    assert (latest["tree_size"], latest["seq"], latest["root_hash"]) == (4, 4, head["root_hash"])
    assert [c["tree_size"] for c in client.get("/v1/audit/checkpoints").json()] == [2, 4]

    response = client.get("/v1/audit/checkpoint")
    assert response.headers["content-type"].startswith("text/plain")
    key = client.get("/v1/audit/public-key").json()["verifier_key"]
    assert key.startswith("ledger+")
    text = note.open_note(response.text, note.Verifier.parse(key))  # what Go's sumdb/note does
    origin, size, root, *extensions = text.splitlines()
    assert (origin, int(size), base64.b64decode(root).hex()) == ("ledger", 4, latest["root_hash"])
    assert extensions == [f"time {latest['time']}", f"chain {latest['hash']}"]


def test_proofs_check_against_the_signed_roots_with_an_rfc_verifier(client: TestClient) -> None:
    append_until(client, 2, 1)
    append_until(client, 4, 2)
    append_until(client, 5, 2)
    first, second = client.get("/v1/audit/checkpoints").json()[:2]
    log = client.get("/v1/log", params={"after": 0, "limit": 10}).json()["events"]
    proof = client.get("/v1/audit/proof/inclusion", params={"seq": 3, "tree_size": second["tree_size"]}).json()
    assert proof["leaf_hash"] == h(b"\x00" + bytes.fromhex(log[2]["hash"])).hex()
    assert verify_inclusion(proof["leaf_index"], proof["tree_size"], bytes.fromhex(proof["leaf_hash"]),
                            [bytes.fromhex(p) for p in proof["audit_path"]], bytes.fromhex(second["root_hash"]))
    path = client.get("/v1/audit/proof/consistency",
                      params={"first": first["tree_size"], "second": second["tree_size"]}).json()["consistency_path"]
    assert verify_consistency(first["tree_size"], second["tree_size"], bytes.fromhex(first["root_hash"]),
                              bytes.fromhex(second["root_hash"]), [bytes.fromhex(p) for p in path])
