"""`python -m bench.upstream_calls --smoke` and `python -m bench.startup --smoke` still run: real
simulator and exporter processes on 127.0.0.1, a tiny size, a Markdown table with the expected
columns and numbers in it. No timing is asserted, no Prometheus is needed."""

from __future__ import annotations

import re

import pytest

from exporter.vendors import kinds
from tests.harness import bench_output

NUMBER = re.compile(r"^\d+(\.\d+)?$")


def run_smoke(module: str) -> str:
    return bench_output(module, "--smoke")


def table(output: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and data rows of the first Markdown table in `output`."""
    lines = [line for line in output.splitlines() if line.startswith("|")]
    assert len(lines) >= 3, output
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    assert all(set(c) <= {"-"} for c in cells[1]), lines[1]
    header, rows = cells[0], cells[2:]
    assert all(len(row) == len(header) for row in rows), lines
    return header, rows


def column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    assert name in header, f"no column {name!r} in {header}"
    return [row[header.index(name)] for row in rows]


def header_line(output: str, command: str) -> None:
    first = output.splitlines()[0]
    assert f"`{command}`" in first and re.search(r"\d+ cores", first), first
    assert re.search(r"[\d.]+ GiB", first), first


def numbers(header: list[str], rows: list[list[str]], *names: str) -> list[float]:
    """Every value of the named columns, each a plain number."""
    values = [(name, value) for name in names for value in column(header, rows, name)]
    assert all(NUMBER.match(value) for _, value in values), values
    return [float(value) for _, value in values]


def test_upstream_calls_smoke() -> None:
    output = run_smoke("bench.upstream_calls")
    header_line(output, "python -m bench.upstream_calls --smoke")
    header, rows = table(output)
    assert len(rows) >= 1
    calls = numbers(
        header,
        rows,
        "first poll calls/target",
        "steady calls/poll/target",
        "catch-up calls/target",
        "steady calls/poll/target after the jump",
    )
    assert min(calls) >= 1
    for name in ("targets", "lookback", "endpoints", "page cap", "clock jump", "bounded"):
        assert name in header
    # Bounded: a steady poll after the clock jumped days ahead costs no more than one before.
    assert column(header, rows, "bounded") == ["yes"] * len(rows)


def test_startup_smoke() -> None:
    output = run_smoke("bench.startup")
    header_line(output, "python -m bench.startup --smoke")
    header, rows = table(output)
    assert len(rows) >= 1
    numbers(header, rows, "listening s", "ready s", "complete scrape s")  # the waits
    numbers(header, rows, "peak RSS MiB", "exporter CPU s", "simulator CPU s")  # the costs
    assert min(numbers(header, rows, "series", "upstream calls")) > 0  # what was done
    for target in kinds():  # every registered vendor has its column
        values = column(header, rows, f"{target} first poll s (calls)")
        assert all(re.match(r"^\d+\.\d+ \(\d+\)$", v) for v in values), (target, values)


@pytest.mark.parametrize("module", ["bench.upstream_calls", "bench.startup"])
def test_help_names_the_smoke_flag(module: str) -> None:
    assert "--smoke" in bench_output(module, "--help", timeout=60)
