"""``bench.rebuild`` writes a realistic log through the real write path and produces the rebuild figure
beside decode-only over the same log: medians, spreads, ratio and peak memory (not their speed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench import rebuild
from bench.paired import Paired
from ledger.application import Ledger
from ledger.config import Settings


def test_build_log_writes_a_realistic_history_through_the_write_path(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys")
    head = rebuild.build_log(settings, 1500, batch=400)
    ledger = Ledger(settings)
    try:
        assert ledger.head() == head >= 1500
        kinds = Counter(type(ledger.mapper.to_domain_event(r)).__name__ for r in ledger.iter_log())
        assert rebuild.decode_only(ledger) == head
    finally:
        ledger.close()
    for kind in ("Registered", "StaffJoined", "Enrolled", "TransferredToCommunity", "ServiceDelivered",
                 "PensionAdjusted", "EligibilityCertified"):
        assert kinds[kind] > 0, kind


def test_the_figures_are_medians_and_spreads_of_interleaved_rounds(tmp_path: Path) -> None:
    reports: list[str] = []
    figures = rebuild.rebuild_figures(tmp_path / "log", 800, rounds=5, report=reports.append)
    events = figures["events"]
    assert isinstance(events, int) and events >= 800 and figures["rounds"] == 5
    for side in ("rebuild", "decode_only"):
        found = figures[side]
        assert isinstance(found, dict) and len(found["rounds"]) == 5
        assert 0 < found["min"] <= found["median"] <= found["max"]
    ratio = figures["ratio"]
    assert isinstance(ratio, dict) and 0 < ratio["min"] <= ratio["median"] <= ratio["max"]
    assert isinstance(figures["peak_traced_mb"], float) and figures["peak_traced_mb"] > 0
    assert isinstance(figures["max_rss_mb"], float) and figures["max_rss_mb"] > 0
    assert isinstance(figures["share_max_rss_mb"], float) and figures["share_max_rss_mb"] >= 0
    together = figures["all_processes_rss_mb"]  # a fresh process and its shares, sampled: never above their peaks
    slack = 1.0  # MB: the kernel counts resident pages per thread in batches, so RSS and its peak drift apart a little
    assert isinstance(together, float)
    assert 0 < together <= figures["max_rss_mb"] + 16 * figures["share_max_rss_mb"] + slack
    figure = figures["figure"]
    assert isinstance(figure, Paired) and figure.median[2] == ratio["median"]
    assert dict(figure.extra)["peak_traced_mb"] == figures["peak_traced_mb"]
    assert any("rebuild vs decode-only" in line for line in reports)
    assert not (tmp_path / "log" / "bench-views").exists()  # the scratch views are removed


def test_the_paired_figure_for_ledger_bench_reads_an_existing_log(tmp_path: Path) -> None:
    rebuild.build_log(Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys"), 300)
    figure = rebuild.rebuild_figure(tmp_path / "home", tmp_path / "keys", rounds=2)
    assert len(figure.ledger) == len(figure.baseline) == 2 and figure.median[2] > 0


def test_the_rebuilds_memory_is_its_own_not_that_of_the_process_that_started_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys")
    rebuild.build_log(settings, 300)
    ballast = bytearray(400 << 20)  # this process at 400+ MB when the probe is started
    ballast[::4096] = b"x" * len(ballast[::4096])  # touched: resident
    memory = rebuild.rebuild_memory(settings, tmp_path / "views.db")
    del ballast
    assert 0 < memory["max_rss_mb"] < 300  # a fresh process folding 300 events (getrusage said 400+)
    assert 0 < memory["all_processes_rss_mb"] <= memory["max_rss_mb"] + 1.0  # no shares below 50,000 events
