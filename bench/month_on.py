"""A month on: what a series costs after weeks of hourly polls, not just after a few.

Usage: python -m bench.month_on [N] [--days D]   (default 1000 series, 40 days)

The other benchmarks poll for minutes: every bucket stays open. Here N series of a token family
(no gauge sums it) and N of a cost family (a gauge sums it per day and month, as the vendors'
cost families are) are polled every hour for D days, one hourly bucket each, a 3-hour lookback,
so buckets settle every hour into the counters' base (and the cost family's day and month sums).
Then, per family: the period sums a series holds, the state file's bytes per series (main file,
after a checkpoint that empties the WAL), and the bytes of Python objects per series when a new
process loads the file (`tracemalloc`, the ledger's load only). Exact, not timed: byte counts of
the same code do not drift.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import tracemalloc
from pathlib import Path

from bench.fresh import lines_of
from bench.machine import machine_header
from exporter.daemon.windows import next_window
from exporter.ledger import Ledger
from exporter.model import Family, Flow, Kind, Period, Stream, StreamRead

H = 3600
T0 = 1_760_000_400 - 1_760_000_400 % 86400  # a UTC day's start
TOKENS = Family("x_tokens_total", Kind.COUNTER, "Tokens.", ("project", "model", "user"))
COST = Family("x_cost_dollars_total", Kind.COUNTER, "Cost.", ("project", "model", "user"))
COST_TODAY = Family(
    "x_cost_today_dollars", Kind.GAUGE, "Today.", COST.labels, sums=COST.name, period=Period.DAY
)
FAMILIES = (TOKENS, COST, COST_TODAY)


def stream(family: Family) -> Stream:
    return Stream(family.name, width=H, lookback=3 * H, backfill=4 * H)


def poll_for(path: Path, n: int, days: int) -> None:
    """D days of hourly polls of N series of each counter family into the file at `path`."""
    ledger = Ledger(path, max_series_per_family=n + 1)
    ledger.declare("t", FAMILIES)
    labels = [(f"proj-{i % 50}", f"model-{i % 7}", f"user-{i}") for i in range(n)]
    for hour in range(days * 24):
        now = T0 + hour * H + 600
        reads = []
        for family in (TOKENS, COST):
            s = stream(family)
            window = next_window(s, now, ledger.cursor("t", s.name))
            flows = [
                Flow(family.name, label, b, b + H, float(i + hour))
                for b in range(window.start, window.end, H)
                for i, label in enumerate(labels)
            ]
            reads.append((s, StreamRead(s.name, window.start, window.end, flows)))
        ledger.commit("t", now, reads)
    ledger.close()


def rows(file: str, n: int, days: int) -> list[str]:
    """The table's rows for the state file `file` (loaded here: call in a fresh process)."""
    path = Path(file)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        periods = dict(
            db.execute(
                "SELECT s.family, count(*) FROM periods p JOIN series s ON s.id = p.series_id "
                "GROUP BY s.family"
            ).fetchall()
        )
    size = path.stat().st_size
    tracemalloc.start()
    ledger = Ledger(path, max_series_per_family=n + 1)
    ledger.declare("t", FAMILIES)
    loaded = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    ledger.close()
    return [
        f"| {n:,} + {n:,} | {days} | {family.name} | "
        f"{periods.get(family.name, 0) / n:.1f} | {size / (2 * n):.0f} | {loaded / (2 * n):.0f} |"
        for family in (TOKENS, COST)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.month_on", description=__doc__)
    parser.add_argument("series", type=int, nargs="?", default=1000, help="of each family")
    parser.add_argument("--days", type=int, default=40, help="of hourly polls")
    args = parser.parse_args()
    n, days = args.series, args.days
    print(machine_header(f"python -m bench.month_on {n} --days {days}"))
    print()
    print(
        "| series | days of hourly polls | family | period sums per series | state file bytes "
        "per series (both families) | loaded: bytes of objects per series (both families) |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.sqlite"
        poll_for(path, n, days)
        print(*lines_of("month_on", f"rows({str(path)!r}, {n}, {days})"), sep="\n", flush=True)


if __name__ == "__main__":
    main()
