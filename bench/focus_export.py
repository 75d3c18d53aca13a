"""Exporting a month of cost history as FOCUS: CPU seconds and peak memory, and what the daily
history costs in the state file.

Usage: python -m bench.focus_export [--series N] [--smoke]   (default 3,226 series: 100,006
series-days over a 31-day month)

A state file is written through the ledger as the daemon writes it: one commit per day of
October 2026, each reading that day's cost and billed quantity of every series (OpenAI's cost
families, grouped by project and line item). Then, each in a fresh process, the month is
exported (`usage-exporter focus`, CSV and Parquet, to a file) and its CPU time and peak
resident memory (`VmHWM`) are read, next to a process that only imports the same modules. The
bytes of the `charges` table (SQLite's `dbstat`) per cost series-day include the day's billed
quantity, which is kept beside it.
"""

from __future__ import annotations

import argparse
import calendar
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine_header
from exporter.ledger import Ledger
from exporter.model import Flow, Stream, StreamRead
from exporter.vendors import plugin

DAY = 86400
OCT = calendar.timegm((2026, 10, 1, 0, 0, 0))
DAYS = 31
COSTS = Stream("costs", DAY, 2 * DAY, 40 * DAY, month_origin=True)
CHILD = """
import sys, time
from pathlib import Path
fmt, export_it, state, out, now = sys.argv[1:6]
from exporter.focus.export import FocusExport, registered_vendors
from exporter.focus.writers import chunks
registered_vendors()  # the plug-in registry: imported by both runs
if fmt == "parquet":
    import pyarrow, pyarrow.parquet
start = time.process_time()
if export_it == "yes":
    export = FocusExport(Path(state), clock=lambda: float(now))
    with open(out, "wb") as handle:
        for chunk in chunks(export.dataset("2026-10"), fmt):
            handle.write(chunk)
cpu = time.process_time() - start
status = Path("/proc/self/status").read_text()
peak = [int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")][0]
print(cpu, peak)
"""


def build(path: Path, series: int) -> None:
    ledger = Ledger(path, clock=lambda: float(OCT + DAYS * DAY))
    ledger.declare("bench", plugin("openai").families, max_series_per_family=series + 1)
    labels = [
        (f"proj_{i // 50:04d}", f"model-{i % 50:02d}, input", "", "", "") for i in range(series)
    ]
    for d in range(DAYS):
        day = OCT + d * DAY
        flows: list[Flow] = []
        for i, lb in enumerate(labels):
            quantity = float((i * 7 + d * 13) % 100_000 + 1)
            cost = float(f"{quantity * 0.15 / 1000:.6f}")
            flows.append(Flow("openai_cost_usd_total", lb, day, day + DAY, cost))
            flows.append(
                Flow("openai_cost_quantity_total", (*lb, "1000_tokens"), day, day + DAY, quantity)
            )
        ledger.commit(
            "bench", day + DAY - 60, [(COSTS, StreamRead("costs", day, day + DAY, flows))]
        )
    ledger.close()


def table_bytes(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(
            db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name=?", (table,)).fetchone()[0]
        )
    finally:
        db.close()


def child(fmt: str, export: bool, state: Path, out: Path) -> tuple[float, float]:
    """(CPU s, peak RSS MB) of a fresh process exporting the month, or only importing."""
    now = str(OCT + (DAYS + 1) * DAY)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, fmt, "yes" if export else "no", str(state), str(out), now],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    cpu, peak = done.stdout.split()
    return float(cpu), int(peak) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=3226)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    series = 40 if args.smoke else args.series
    command = "python -m bench.focus_export" + (" --smoke" if args.smoke else "")
    print(machine_header(command))
    print()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "ledger.sqlite"
        started = time.process_time()
        build(state, series)
        build_cpu = time.process_time() - started
        days = series * DAYS
        charges = table_bytes(state, "charges")
        print(
            "| format | series-days (rows) | export CPU s | peak RSS MB (import only) | "
            "file MB | charges bytes per series-day | state file MB |"
        )
        print("|---|---|---|---|---|---|---|")
        for fmt in ("csv", "parquet"):
            out = Path(tmp) / f"out.{fmt}"
            cpu, peak = child(fmt, True, state, out)
            _, base_peak = child(fmt, False, state, out)
            print(
                f"| {fmt} | {days} | {cpu:.2f} | {peak:.0f} ({base_peak:.0f}) | "
                f"{out.stat().st_size / 1e6:.1f} | {charges / days:.1f} | "
                f"{state.stat().st_size / 1e6:.1f} |"
            )
        print()
        print(f"(writing the state: {DAYS} commits, {build_cpu:.1f} CPU s in all)")


if __name__ == "__main__":
    main()
