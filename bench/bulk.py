"""``ledger bench --bulk``: an annual pension adjustment for a whole city, in-process and over HTTP.

``retirees`` retirees are enrolled and transferred to a community through ``Ledger.handle_many`` (the
real write path, in batches); then each round records one ``pension_adjusted`` for every one of them,
once in-process (``Ledger.handle_many`` on the serving app's own ledger, views kept current) and once
through ``POST /v1/batches`` on the same server (10,000 commands a request), interleaved, the order
alternating per round. Both sides do the same work on the same retirees (each round raises every
pension by one yuan from a known amount), so the ratio is what HTTP, JSON and validation cost on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import httpx

from bench.paired import Paired, served
from bench.workload import COMMUNITY, bench_id_number
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import LedgerError

Report = Callable[[str], None]
PER_REQUEST = 10_000
SYSTEM = c.Context()
START = Decimal("3000.00")


def enroll_city(ledger: Ledger, retirees: int, report: Report) -> list[UUID]:
    """One community with staff and ``retirees`` community-managed retirees, through ``handle_many``."""
    ledger.handle(c.RegisterCommunity(code=COMMUNITY, name="Bench Community", city="Changsha", district="Yuelu",
                                      street="Bench Street", kind="urban_community"))
    items: list[tuple[c.Command, c.Context]] = []
    for n in range(retirees):
        items.append((c.Enroll(name=f"Retiree {n}", id_number=bench_id_number(n), sex="male",
                               birth_date=date(1950, 1, 1), danwei_code="D-BENCH", danwei_name="Bench Works",
                               retirement_date=date(2010, 1, 1), monthly_pension=START, agency="CS-SIA",
                               city="Changsha", district="Yuelu"), SYSTEM))
        items.append((c.TransferToCommunity(retiree_id=c.Ref(2 * n), from_danwei="D-BENCH",  # type: ignore[arg-type]
                                            community=COMMUNITY, effective_date=date(2011, 1, 1),
                                            approved_by="agency"), SYSTEM))
    report(f"enrolling {retirees:,} retirees")
    results = ledger.handle_many(items)
    failed = [r for r in results if isinstance(r, LedgerError)]
    if failed:
        raise AssertionError(f"{len(failed)} enrollments failed: {failed[0]}")
    return [UUID(r.id) for r in results[::2] if isinstance(r, c.Appended)]


def _month(k: int) -> str:
    return f"{2012 + k // 12}-{k % 12 + 1:02d}"


def run(root: Path, retirees: int = 100_000, rounds: int = 3, report: Report = lambda _: None) -> list[Paired]:
    """The bulk figure; ``root`` is a scratch folder."""
    from api.main import create_app

    app = create_app(Settings(home=root / "bulk", keys_dir=root / "keys"), dev_mode=True)
    rates: dict[str, list[float]] = {"http": [], "in-process": []}
    with served(app) as url, httpx.Client(base_url=url, timeout=600) as client:
        ledger: Ledger = app.state.services.ledger
        ids = enroll_city(ledger, retirees, report)
        step = 0
        for round_ in range(rounds):
            for side in ("http", "in-process") if round_ % 2 == 0 else ("in-process", "http"):
                previous, month = START + step, _month(step)
                report(f"round {round_ + 1}: {retirees:,} adjustments {side}")
                began = time.perf_counter()
                if side == "http":
                    _over_http(client, ids, previous, month)
                else:
                    _in_process(ledger, ids, previous, month)
                rates[side].append(retirees / (time.perf_counter() - began))
                step += 1
        final = ledger.retiree(ids[-1]).monthly_pension
        if final != START + step:
            raise AssertionError(f"the last retiree's pension is {final}, expected {START + step}")
    return [Paired(f"annual adjustment of {retirees:,} retirees, adjustments/s via POST /v1/batches", "/s",
                   "Ledger.handle_many in-process (same server, same views)", rates["http"], rates["in-process"])]


def _adjustment(previous: Decimal, month: str) -> dict[str, str]:
    return {"type": "pension_adjusted", "previous_amount": str(previous), "new_amount": str(previous + 1),
            "effective_month": month, "reason": "annual_adjustment"}


def _over_http(client: httpx.Client, ids: list[UUID], previous: Decimal, month: str) -> None:
    body = _adjustment(previous, month)
    for start in range(0, len(ids), PER_REQUEST):
        items = [{**body, "retiree_id": str(rid)} for rid in ids[start:start + PER_REQUEST]]
        answer = client.post("/v1/batches", json=items)
        answer.raise_for_status()
        if answer.json()["failed"]:
            raise AssertionError(f"adjustments failed over HTTP: {answer.json()['results'][0]}")


def _in_process(ledger: Ledger, ids: list[UUID], previous: Decimal, month: str) -> None:
    command = {"previous_amount": previous, "new_amount": previous + 1, "effective_month": month,
               "reason": "annual_adjustment"}
    results = ledger.handle_many((c.AdjustPension(retiree_id=rid, **command), SYSTEM) for rid in ids)  # type: ignore[arg-type]
    failed = [r for r in results if isinstance(r, LedgerError)]
    if failed:
        raise AssertionError(f"{len(failed)} adjustments failed in-process: {failed[0]}")
