"""The benchmark scripts still run (a tiny size, no timing asserted). They run as
`python -m bench.…` subprocesses: the tests do not import `bench` (tests/meta/test_testkit.py)."""

from __future__ import annotations

import re

import pytest

from tests.harness import bench_output


def run_bench(module: str, *args: int | str) -> list[str]:
    """The Markdown table lines `python -m <module> <args>` prints."""
    output = bench_output(module, *map(str, args))
    return [line for line in output.splitlines() if line.startswith("|")]


def test_ledger_render_and_render_comparison_benchmarks_run() -> None:
    rows = [line for line in run_bench("bench.ledger_render", 300) if line.startswith("| 300 |")]
    ledger = [r for r in rows if r.count("|") == 10]
    render = [r for r in rows if r.count("|") == 9 and r.count("→") == 6]
    collector = [r for r in rows if r.count("|") == 5 and r.count("→") == 3]
    assert len(ledger) == 1 and len(render) == 1 and len(collector) == 1 and len(rows) == 3, rows


def test_end_to_end_benchmark_runs() -> None:
    lines = run_bench("bench.end_to_end", 200)
    stages = lines[0].count("CPU s (share)")
    rows = [r for r in lines if r.startswith("| 200 |")]
    assert stages >= 3, lines[0]
    assert len(rows) == 2 and all(r.startswith("| 200 | 400 |") for r in rows), rows
    assert all(r.count("%)") == stages for r in rows), rows


@pytest.mark.parametrize("unchanged", [False, True])
def test_memory_stages_benchmark_runs(unchanged: bool) -> None:
    flags = ["--unchanged"] if unchanged else []
    rows = [r for r in run_bench("bench.memory_stages", 300, *flags) if r.startswith("| 300 |")]
    stages = [r for r in rows if "state file (" not in r]
    assert len(stages) == 6 and all(r.count("|") == 7 for r in stages), rows
    assert ("re-read unchanged" in rows[3]) == unchanged, rows
    assert "bytes per series" in rows[-2], rows
    assert "restarted" in rows[-1], rows


def test_month_on_runs() -> None:
    """Ten series of each family over two days: the token family keeps no period sums, the cost
    family (a gauge sums it) keeps its day and month sums."""
    rows = [r for r in run_bench("bench.month_on", 10, "--days", 2) if r.startswith("| 10 + 10 |")]
    assert len(rows) == 2 and all(r.count("|") == 7 for r in rows), rows
    tokens, cost = (float(r.split("|")[4]) for r in rows)
    assert tokens == 0 and cost > 0, rows


def test_compressor_comparison_runs() -> None:
    rows = [r for r in run_bench("bench.compressors", 300) if r.startswith("| 300 |")]
    assert len(rows) == 4 and all(r.count("|") == 7 for r in rows), rows
    assert any("ISA-L level 1 (now)" in r for r in rows), rows


def test_scale_curve_runs() -> None:
    """Two sizes, two polls: a row each with every figure, then the growth between them."""
    lines = run_bench("bench.scale_curve", 300, 3000, "--polls", 2)
    rows = [r for r in lines if r.startswith(("| 300 |", "| 3,000 |"))]
    assert len(rows) == 2 and all(r.count("|") == 11 for r in rows), lines
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"[\d.]+( / [\d.]+)?", c.replace(",", "")) for c in cells), row
        # the listener within all processes; counted once, a shared page makes PSS the less
        assert 0 < float(cells[5]) < float(cells[3]), row
        assert 0 < float(cells[4]) < float(cells[3]), row
    (growth,) = [r for r in lines if r.startswith("| 300 → 3,000 (10x) |")]
    assert growth.count("x |") == 5, growth
