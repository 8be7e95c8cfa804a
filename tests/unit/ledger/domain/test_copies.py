"""The copy the aggregate cache hands to a command: nothing done to it reaches the cached original."""

from __future__ import annotations

import copy
from datetime import date

from tests.unit.ledger.domain.test_rules import certify, history, rating, replay, service, transfer


def test_a_command_on_a_copy_leaves_the_original_as_it_was() -> None:
    original = replay(history(transfer(), service("sv-1"), certify(2021)))
    before = copy.deepcopy(vars(original))
    clone = copy.deepcopy(original)
    for step in (service("sv-2", on=date(2021, 5, 1)), rating("sv-1"), certify(2022, on=date(2022, 4, 1)),
                 rating(None, on=date(2022, 5, 1))):
        step(clone)
    assert set(clone.services) == {"sv-1", "sv-2"} and clone.services["sv-1"]["rated"] is True
    assert clone.certified_years == [2021, 2022] and clone.version > original.version
    after = vars(original)
    assert {k: after[k] for k in before if k != "_pending_events"} == {
        k: v for k, v in before.items() if k != "_pending_events"}
    assert original.services["sv-1"].get("rated") is not True and original.pending_events == []


def test_a_copy_has_the_same_state_and_its_own_containers() -> None:
    original = replay(history(transfer(), service("sv-1")))
    clone = copy.deepcopy(original)
    assert vars(clone) == vars(original)
    for name, value in vars(original).items():
        if isinstance(value, list | dict | set) and name != "_pending_events":
            assert getattr(clone, name) is not value, name
