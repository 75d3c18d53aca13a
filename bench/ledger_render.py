"""Poll and render cost at scale: fold one poll of N result rows into the ledger, then render.

Usage: python -m bench.ledger_render [N ...]   (default 1000 10000 100000)
Prints a Markdown table row per N: the first commit's wall and CPU time (N new series), the CPU
time of the next poll's commit (the same N rows re-read, every value risen), SQLite file size,
samples() time, render time, exposition bytes (text, gzip).

Then a second table, side by side in one process: the CPU seconds (`time.process_time`, not
wall time: the machine is shared) of rendering all four variants the way before issue 17 (the
straightforward renderer kept in `testkit/reference_render.py`, with the garbage collector on as
it was) and with `samples()` and the kept `Renderer` the way the daemon runs them now (the
collector paused), for polls that change every series, 1 % of them in one block, 1 % scattered,
and none.

Then a third table, side by side in one process: the CPU seconds of a re-read commit (every
value risen), `samples()` and the kept `Renderer`'s rendering, with the cyclic garbage collector
on and paused (`exporter.runtime.gc_pause`, as the daemon runs them), alternating, the least
of three.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.daemon.windows import next_window
from exporter.exposition.render import Renderer, render
from exporter.ledger import Ledger
from exporter.model import Family, Flow, Kind, Stream, StreamRead, Window
from exporter.runtime.gc_pause import gc_paused

FAMILY = Family("bench_tokens_total", Kind.COUNTER, "Tokens.", ("project_id", "model", "user_id"))
STREAM = Stream("usage", 3600, 3 * 3600, 86400)
NOW = 1_763_900_000


def rows(n: int, start: int, risen: int = 0) -> list[Flow]:
    """N result rows of one open hourly bucket, each value `risen` above the first poll's."""
    return [
        Flow(
            FAMILY.name,
            (f"proj_{i % 97}", f"model-{i % 13}", f"user-{i}"),
            start,
            start + 3600,
            float(i % 1000 + 1 + risen),
        )
        for i in range(n)
    ]


@contextlib.contextmanager
def bench_ledger(n: int) -> Iterator[tuple[Ledger, Window, int]]:
    """A ledger in a temporary directory, FAMILY declared for target "t" with room for N
    series, the window of its first poll and the start of the open hourly bucket. Closed on
    leaving."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "l.sqlite", max_series_per_family=n + 1)
        try:
            ledger.declare("t", [FAMILY])
            window = next_window(STREAM, NOW, ledger.cursor("t", STREAM.name))
            yield ledger, window, NOW - NOW % 3600
        finally:
            ledger.close()


def state_bytes(ledger: Ledger) -> int:
    """The state file's size with its WAL and shared-memory files."""
    return sum(p.stat().st_size for p in ledger.path.parent.glob(f"{ledger.path.name}*"))


def measure(n: int) -> str:
    with bench_ledger(n) as (ledger, window, start):
        flows = rows(n, start)
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
        size = state_bytes(ledger)
        wall = time.perf_counter()
        families = ledger.samples("t")
        samples_wall = time.perf_counter() - wall
        wall = time.perf_counter()
        exposition = render(families, CollectorRegistry())
        render_wall = time.perf_counter() - wall
    return (
        f"| {n:,} | {commit_wall:.2f} | {commit_cpu:.2f} | {reread_cpu:.2f} | {size / 1e6:.1f} | "
        f"{samples_wall:.2f} | {render_wall:.2f} | {exposition.text_size / 1e6:.1f} | "
        f"{len(exposition.text_gzip) / 1e6:.2f} |"
    )


def render_cpu(n: int) -> str:
    """One row of the render table for N series (see the module docstring)."""
    from testkit.reference_render import render as reference

    def cpu(work: Callable[..., object], *args: object) -> float:
        began = time.process_time()
        work(*args)
        return time.process_time() - began

    with bench_ledger(n) as (ledger, window, start):
        values = [float(i % 1000 + 1) for i in range(n)]
        labels = [(f"proj_{i % 97}", f"model-{i % 13}", f"user-{i}") for i in range(n)]

        def poll(at: int, changed: Sequence[int]) -> None:
            for i in changed:
                values[i] += 1
            flows = [
                Flow(FAMILY.name, lv, start, start + 3600, v)
                for lv, v in zip(labels, values, strict=True)
            ]
            ledger.commit("t", at, [(STREAM, StreamRead("usage", window.start, window.end, flows))])

        poll(NOW, [])
        renderer = Renderer()
        registry = CollectorRegistry()
        first = cpu(renderer.render, ledger.samples("t"), registry)
        cells = [f"{first:.3f}"]
        block = range(n // 3, n // 3 + max(1, n // 100))
        scattered = list(range(0, n, 100))
        for step, changed in enumerate((range(n), block, scattered, [])):
            poll(NOW + 60 * (step + 1), changed)
            with gc_paused():  # as the daemon renders now
                began = time.process_time()
                families = ledger.samples("t")
                samples_cpu = time.process_time() - began
            before = cpu(reference, families, registry)
            with gc_paused():
                now = cpu(renderer.render, families, registry)
            cells.append(f"{before:.3f} → {samples_cpu + now:.3f}")
        exposition = renderer.render(ledger.samples("t"), registry)
        old = reference(ledger.samples("t"), registry)
    sizes = (
        f"{len(old.text_gzip) / 1e6:.2f} → {len(exposition.text_gzip) / 1e6:.2f} | "
        f"{len(old.openmetrics_gzip) / 1e6:.2f} → {len(exposition.openmetrics_gzip) / 1e6:.2f}"
    )
    return f"| {n:,} | " + " | ".join(cells) + f" | {sizes} |"


def gc_cpu(n: int) -> str:
    """(commit, samples(), render) CPU s with the collector on, then paused: least of 3 each."""
    with bench_ledger(n) as (ledger, window, start):
        renderer = Renderer()
        best: dict[bool, list[float]] = {False: [9e9] * 3, True: [9e9] * 3}
        for poll in range(7):  # the first one creates the series; then on, paused, on, ...
            flows = rows(n, start, poll)
            read = StreamRead("usage", window.start, window.end, flows)
            paused = poll % 2 == 0
            with gc_paused() if paused else contextlib.nullcontext():
                began = time.process_time()
                ledger.commit("t", NOW + 60 * poll, [(STREAM, read)])
                commit = time.process_time() - began
                began = time.process_time()
                families = ledger.samples("t")
                samples = time.process_time() - began
                began = time.process_time()
                renderer.render(families, CollectorRegistry())
                rendered = time.process_time() - began
            if poll:
                now = (commit, samples, rendered)
                best[paused] = [min(a, b) for a, b in zip(best[paused], now, strict=True)]
            del flows, read, families
    on, off = best[False], best[True]
    cells = [f"{a:.3f} → {b:.3f}" for a, b in zip(on, off, strict=True)]
    return f"| {n:,} | " + " | ".join(cells) + " |"


def table(header: str, row: Callable[[int], str], sizes: list[int]) -> None:
    """A Markdown table: `header` (its columns between `|`), then `row(n)` for each size, each
    printed as soon as it is measured."""
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for n in sizes:
        print(row(n), flush=True)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10_000, 100_000]
    table(
        "| rows/series | first commit wall s | first commit CPU s | re-read commit CPU s |"
        " SQLite MB | samples() s | render s | text MB | gzip MB |",
        measure,
        sizes,
    )
    print()
    table(
        "| series | first render CPU s | every series changed: before → now (samples() +"
        " render) | 1 % changed, one block | 1 % changed, scattered | none changed |"
        " text gzip MB before → now | OpenMetrics gzip MB before → now |",
        render_cpu,
        sizes,
    )
    print()
    table(
        "| series | re-read commit CPU s: collector on → paused | samples() | render |",
        gc_cpu,
        sizes,
    )


if __name__ == "__main__":
    main()
