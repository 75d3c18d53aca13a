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


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def test_lone_scrape_mode_prints_between_and_during_polls() -> None:
    """`--lone`: one client once a second against the defaults, idle and polling."""
    output = bench_output("bench.scrape", "--lone", "--smoke")
    assert "`python -m bench.scrape --lone --series 1000 --seconds 3`" in output.splitlines()[0]
    (row,) = [line for line in output.splitlines() if line.startswith("| 1,000 |")]
    _, between, during, p99_ratio, p50_ratio, scrapes, polls = cells(row)
    for latencies in (between, during):  # p50 / p99 / max in ms, in that order
        p50, p99, most = (float(v) for v in latencies.split(" / "))
        assert 0 < p50 <= p99 <= most, row
    assert re.fullmatch(r"[\d.]+x", p99_ratio) and re.fullmatch(r"[\d.]+x", p50_ratio), row
    assert int(scrapes) == 3 and int(polls) > 0, row


def test_the_defaults_between_and_during_polls_give_the_listener_share() -> None:
    """`--modes process-idle process`: the defaults between and during polls; the RSS of every
    process with the listener process's share (none in one process), and their PSS."""
    require_tool("wrk")
    output = bench_output(
        "bench.scrape", "--during-only", "--series", "1000", "--seconds", "1", "--modes",
        "process-idle", "process", timeout=300,
    )  # fmt: skip
    rows = [cells(line) for line in output.splitlines() if line.startswith("| 1,000 |")]
    assert [row[1].split(",")[0] for row in rows] == [
        "between polls",
        "between polls",
        "during polls",
    ], rows
    one, idle, busy = rows
    assert one[-1] == "-" and idle[5] == "-" and int(busy[5]) > 0, rows
    for row in (idle, busy):  # every process counted, the listener's share within it
        assert 0 < int(row[-1]) < int(row[7]) <= int(row[9]), row
        assert 0 < int(row[8]) < int(row[7]), row  # PSS: a page both processes map, once
