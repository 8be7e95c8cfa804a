"""Workloads shared by the benchmark figures: a populated ledger and timed append loops."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from ledger import commands as c
from ledger.application import Ledger
from ledger.domain.values import id_check_character

COMMUNITY = "CS-YL-001"
START = date(2012, 1, 1)


@dataclass(frozen=True)
class Timing:
    """Throughput and per-operation latency of one measured loop."""

    ops: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # milliseconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


def populate(ledger: Ledger, retirees: int) -> list[UUID]:
    """One community with active staff and ``retirees`` managed retirees; returns their ids."""
    ledger.handle(c.RegisterCommunity(code=COMMUNITY, name="Bench Community", city="Changsha", district="Yuelu",
                                      street="Bench Street", kind="urban_community"))
    ledger.handle(c.JoinStaff(community=COMMUNITY, staff_id="staff-1", name="Staff One", role="full_time",
                              qualified_social_worker=True, joined_on=START))
    ids = []
    for n in range(retirees):
        enrolled = ledger.handle(c.Enroll(
            name=f"Retiree {n}", id_number=bench_id_number(n), sex="male", birth_date=date(1950, 1, 1),
            danwei_code="D-BENCH", danwei_name="Bench Works", retirement_date=date(2010, 1, 1),
            monthly_pension=Decimal("3000"), agency="CS-SIA", city="Changsha", district="Yuelu"))
        rid = UUID(enrolled.id)
        ledger.handle(c.TransferToCommunity(retiree_id=rid, from_danwei="D-BENCH", community=COMMUNITY,
                                            effective_date=date(2011, 1, 1), approved_by="agency"))
        ids.append(rid)
    return ids


def bench_id_number(n: int) -> str:
    """A valid ID number (GB 11643 check character) of someone born on 1950-01-01, distinct per ``n``."""
    first17 = f"43{n // 1000 % 100:02d}0219500101{n % 1000:03d}"
    return first17 + id_check_character(first17)


def service(rid: UUID, n: int) -> c.DeliverService:
    return c.DeliverService(retiree_id=rid, service_id=f"sv-{n}", community=COMMUNITY, service_type="home_visit",
                            delivered_on=START + timedelta(days=n % 4000), staff_id="staff-1", duration_minutes=30)


def timed(operations: int, call: Callable[[int], object]) -> Timing:
    latencies = []
    started = time.perf_counter()
    for n in range(operations):
        began = time.perf_counter()
        call(n)
        latencies.append(time.perf_counter() - began)
    return Timing(operations, time.perf_counter() - started, latencies)


def timed_concurrently(writers: int, per_writer: int, call: Callable[[int, int], object]) -> Timing:
    """``writers`` threads, each calling ``call(writer, n)`` ``per_writer`` times."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        mine = []
        try:
            for n in range(per_writer):
                began = time.perf_counter()
                call(writer, n)
                mine.append(time.perf_counter() - began)
        except BaseException as error:
            errors.append(error)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return Timing(writers * per_writer, seconds, latencies)


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ends a process the bench started: SIGTERM, then SIGKILL if it lingers past ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
