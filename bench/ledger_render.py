"""Poll and render cost at scale: fold one poll of N result rows into the ledger, then render.

Usage: python bench/ledger_render.py [N ...]   (default 1000 10000 100000)
Prints a Markdown table row per N: the first commit's wall and CPU time (N new series), the CPU
time of the next poll's commit (the same N rows re-read, every value risen), SQLite file size,
samples() time, render time, exposition bytes (text, gzip).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.exposition import render
from exporter.ledger import Ledger
from exporter.model import Family, Flow, Kind, Stream, StreamRead

FAMILY = Family("bench_tokens_total", Kind.COUNTER, "Tokens.", ("project_id", "model", "user_id"))
STREAM = Stream("usage", 3600, 3 * 3600, 86400)
NOW = 1_763_900_000


def measure(n: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "l.sqlite", max_series_per_family=n + 1)
        ledger.declare("t", [FAMILY])
        window = ledger.window("t", STREAM, NOW)
        start = NOW - NOW % 3600
        flows = [
            Flow(
                FAMILY.name,
                (f"proj_{i % 97}", f"model-{i % 13}", f"user-{i}"),
                start,
                start + 3600,
                float(i % 1000 + 1),
            )
            for i in range(n)
        ]
        read = StreamRead("usage", window.start, window.end, flows)
        wall, cpu = time.perf_counter(), time.process_time()
        ledger.commit("t", NOW, [(STREAM, read)])
        commit_wall, commit_cpu = time.perf_counter() - wall, time.process_time() - cpu
        # The next poll re-reads the same open bucket, every value risen (late data).
        risen = [Flow(f.family, f.labels, f.start, f.end, f.value + 1) for f in flows]
        reread = StreamRead("usage", window.start, window.end, risen)
        cpu = time.process_time()
        ledger.commit("t", NOW + 60, [(STREAM, reread)])
        reread_cpu = time.process_time() - cpu
        size = (Path(tmp) / "l.sqlite").stat().st_size + sum(
            p.stat().st_size for p in Path(tmp).glob("l.sqlite-*")
        )
        wall = time.perf_counter()
        families = ledger.samples("t")
        samples_wall = time.perf_counter() - wall
        wall = time.perf_counter()
        exposition = render(families, CollectorRegistry())
        render_wall = time.perf_counter() - wall
        ledger.close()
    return (
        f"| {n:,} | {commit_wall:.2f} | {commit_cpu:.2f} | {reread_cpu:.2f} | {size / 1e6:.1f} | "
        f"{samples_wall:.2f} | {render_wall:.2f} | {len(exposition.text) / 1e6:.1f} | "
        f"{len(exposition.text_gzip) / 1e6:.2f} |"
    )


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10_000, 100_000]
    print(
        "| rows/series | first commit wall s | first commit CPU s | re-read commit CPU s |"
        " SQLite MB | samples() s | render s | text MB | gzip MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        print(measure(n), flush=True)


if __name__ == "__main__":
    main()
