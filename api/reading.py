"""Read-your-writes for view reads: wait (bounded, ``runtime.bootstrap.READ_WAIT_S``) until a view has
applied the log up to its head as it stood when the read arrived, or up to the ``Ledger-Min-Seq`` the
client names (the ``seq`` a POST answered), and say where the view stands (``Ledger-Position`` and
``Ledger-Lag`` headers): never silently stale."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from runtime.bootstrap import Services

MinSeq = Annotated[int | None, Header(alias="Ledger-Min-Seq", ge=0, le=2**62,
                                      description="wait until the view has applied this seq (a POST's answer)")]


def caught_up(view: str, services: Services, response: Response, min_seq: int | None) -> tuple[int, int]:
    """``(position, lag)`` of ``view`` once it reached the log head seen now (or ``min_seq``) or the wait
    ended; also set as the response's ``Ledger-Position`` and ``Ledger-Lag`` headers."""
    target = max(services.ledger.head(), min_seq or 0)
    position = services.view_position(view, target)
    lag = max(target - position, 0)
    response.headers["Ledger-Position"], response.headers["Ledger-Lag"] = str(position), str(lag)
    return position, lag
