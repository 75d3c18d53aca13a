"""The scrape benchmark still runs end to end (1,000 series, 1 s per variant; wrk from the
Debian package). No timing is asserted: the figures live in bench/RESULTS.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.harness import require_tool

ROOT = Path(__file__).resolve().parents[2]


def test_scrape_benchmark_smoke_run_prints_every_table() -> None:
    require_tool("wrk")
    done = subprocess.run(
        [sys.executable, "-m", "bench.scrape", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 1,000 |")]
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
