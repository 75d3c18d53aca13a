"""The benchmark scripts still run (a tiny size, no timing asserted)."""

from bench.ledger_render import measure, render_cpu


def test_ledger_render_benchmark_runs() -> None:
    row = measure(50)
    assert row.startswith("| 50 |") and row.count("|") == 10


def test_render_comparison_benchmark_runs() -> None:
    row = render_cpu(300)
    assert row.startswith("| 300 |") and row.count("|") == 9 and row.count("→") == 6
