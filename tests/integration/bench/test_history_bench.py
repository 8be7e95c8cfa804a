"""``bench.history.bench_history`` produces its figures (their speed is not checked here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.history import bench_history


@pytest.mark.parametrize("history_cache", [None, 0], ids=["cached", "uncached"])
def test_the_history_benchmark_reports_sane_figures(tmp_path: Path, history_cache: int | None) -> None:
    figures = bench_history(tmp_path, events=50, requests=20, page=10, history_cache=history_cache)
    assert (figures["events"], figures["requests"], figures["page"]) == (50, 20, 10)
    for name in ("paged", "full"):
        assert 0 < figures[f"{name}_p50_ms"] <= figures[f"{name}_p99_ms"]
    assert 0 < figures["paged_bytes"] < figures["full_bytes"]
