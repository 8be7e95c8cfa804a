"""The registered views: unique names, and handlers that only name event types the domain has."""

from __future__ import annotations

from ledger.privacy import event_classes
from projections import registry


def test_every_handler_names_an_event_type_of_the_domain() -> None:
    """Views read only the types they handle, so a misspelled or renamed type would be skipped in
    silence: this is the check that catches it."""
    known = set(event_classes())
    for view in registry.ALL:
        handled = set(getattr(view, "handlers", {}))
        assert handled <= known, (view.name, sorted(handled - known))


def test_names_are_unique_and_found_by_name() -> None:
    names = [view.name for view in registry.ALL]
    assert len(names) == len(set(names))
    assert [registry.by_name(name).name for name in names] == names
