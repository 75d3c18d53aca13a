"""`python -m bench.focus_export --smoke` still runs and prints its table with numbers in it.
No timing is asserted."""

from __future__ import annotations

import re

from tests.harness import bench_output


def test_focus_export_bench_smoke() -> None:
    output = bench_output("bench.focus_export", "--smoke")
    assert "`python -m bench.focus_export --smoke`" in output.splitlines()[0]
    rows = [line for line in output.splitlines() if line.startswith(("| csv", "| parquet"))]
    assert len(rows) == 2, output
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == "1240"  # 40 series x 31 days
        assert re.fullmatch(r"[\d.]+", cells[2]) and re.fullmatch(r"[\d.]+", cells[5])
