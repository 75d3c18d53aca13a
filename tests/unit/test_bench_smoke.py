"""The benchmark scripts still run (a tiny size, no timing asserted)."""

from bench.ledger_render import measure, render_cpu


def test_ledger_render_benchmark_runs() -> None:
    row = measure(50)
    assert row.startswith("| 50 |") and row.count("|") == 10


def test_render_comparison_benchmark_runs() -> None:
    row = render_cpu(300)
    assert row.startswith("| 300 |") and row.count("|") == 9 and row.count("→") == 6


def test_end_to_end_benchmark_runs() -> None:
    from bench.end_to_end import STAGES
    from bench.end_to_end import measure as end_to_end

    rows = end_to_end(200)
    assert len(rows) == 2 and all(r.startswith("| 200 | 400 |") for r in rows), rows
    assert all(r.count("%)") == len(STAGES) for r in rows), rows
