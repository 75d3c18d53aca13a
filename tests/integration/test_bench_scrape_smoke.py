"""The scrape benchmark still runs end to end (1,000 series, 1 s per variant; wrk from the
Debian package). No timing is asserted: the figures live in bench/RESULTS.md."""

from __future__ import annotations

import re

from tests.harness import bench_output, require_tool


def test_scrape_benchmark_smoke_run_prints_every_table() -> None:
    require_tool("wrk")
    output = bench_output("bench.scrape", "--smoke", timeout=300)
    rows = [line for line in output.splitlines() if line.startswith("| 1,000 |")]
    variants = {"text", "text+gzip", "openmetrics", "openmetrics+gzip"}
    assert {row.split("|")[2].strip() for row in rows} >= variants
    throughput = [row for row in rows if row.split("|")[2].strip() in variants]
    for row in throughput:
        ours_rps, baseline_rps = float(row.split("|")[3].replace(",", "")), row.split("|")[6]
        assert ours_rps > 0 and re.fullmatch(r"\s*[\d,.]+\s*", baseline_rps), row
    during = [row for row in rows if "polls" in row.split("|")[2]]
    assert len(during) == 4, during  # between polls; during: listener process, now, before
    assert any("listener in its own process" in row for row in during), during
    assert all(int(row.split("|")[6]) > 0 for row in during if "during" in row), during
