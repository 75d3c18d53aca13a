"""Where the memory of N series goes: RSS and live Python bytes after each stage of two polls.

Usage: python -m bench.memory_stages [N ...] [--polls K] [--unchanged]   (default 100000 and 2
polls; each N in a fresh process)

One process per N goes through the daemon's stages with the daemon's settings (commits and
renderings with the cyclic garbage collector paused, `malloc_trim` after a rendering): import
the daemon, commit a first poll of N new series (the rows then dropped), render the four
variants with a kept `Renderer`, commit a second poll re-reading every series risen, render
again, trim. After each stage it prints the resident set (`VmRSS`) and its peak (`VmHWM`), and
from Python's small-object allocator (objects up to 512 bytes: series, tuples, short strings)
the bytes its live objects take and the bytes of the arenas it holds: the difference is freed
space it cannot give back while a live object shares its arena. Large blocks (the rendered
bytes, long lists) come from malloc and are in RSS only. Also the state file's size per series.
With `--unchanged` every poll after the first re-reads every series with the same values: the
same rows, lookups and journal, but no value changes, so no object made during it outlives it,
and the arenas it needs are freed after it (the comparison that shows what pins them: round
three). (`tracemalloc` would give exact live bytes, but its own bookkeeping doubles the RSS
measured.)
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from bench.fresh import import_daemon, lines_of
from bench.machine import machine_header
from testkit.memory import memory_kib

MB = 1024 * 1024


def _pymalloc() -> tuple[float, float]:
    """(bytes in live small objects, bytes of the arenas held), from `sys._debugmallocstats`,
    which writes to file descriptor 2."""
    with tempfile.TemporaryFile() as report:
        saved = os.dup(2)
        os.dup2(report.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        report.seek(0)
        text = report.read().decode()
    live = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    arenas = re.search(r"arenas \* \d+ bytes/arena\s*=\s*([\d,]+)", text)
    if live is None or arenas is None:
        return 0.0, 0.0
    return float(live[1].replace(",", "")), float(arenas[1].replace(",", ""))


def stages(n: int, polls: int = 2, unchanged: bool = False) -> list[str]:
    """The table rows for N series and `polls` polls (each after the first re-reads every
    series, risen, or `unchanged`), measured in this process."""
    import_daemon()
    from prometheus_client import CollectorRegistry

    from bench.ledger_render import NOW, STREAM, bench_ledger, rows, state_bytes
    from exporter.daemon.windows import next_window
    from exporter.exposition.render import Renderer
    from exporter.model import StreamRead
    from exporter.runtime.gc_pause import gc_paused
    from exporter.runtime.memory import release_free_memory

    out: list[str] = []

    def stage(name: str) -> None:
        memory = memory_kib()
        live, arenas = _pymalloc()
        out.append(
            f"| {n:,} | {name} | {memory.get('VmRSS', 0) / 1024:.0f} "
            f"| {memory.get('VmHWM', 0) / 1024:.0f} | {live / MB:.0f} | {arenas / MB:.0f} |"
        )

    stage("daemon imported")
    with bench_ledger(n) as (ledger, _, start):
        renderer = Renderer()
        registry = CollectorRegistry()
        for poll in range(polls):
            name = (
                "first poll committed (N new series)"
                if poll == 0
                else f"poll {poll + 1} committed (every series "
                + ("re-read unchanged)" if unchanged else "risen)")
            )
            window = next_window(STREAM, NOW + 60 * poll, ledger.cursor("t", STREAM.name))
            risen = 0 if unchanged else poll
            read = StreamRead(STREAM.name, window.start, window.end, rows(n, start, risen))
            with gc_paused():
                ledger.commit("t", NOW + 60 * poll, [(STREAM, read)])
            del read
            stage(name)
            with gc_paused():
                exposition = renderer.render(ledger.samples("t"), registry)
            release_free_memory()  # as the daemon does after each rendering
            stage(
                "rendered and trimmed (2 gzip variants kept: "
                f"{(exposition.text_size + exposition.openmetrics_size) / MB:.0f} MB plain, "
                f"{sum(map(len, (exposition.text_gzip, exposition.openmetrics_gzip))) / MB:.1f}"
                " MB gzip)"
            )
        size = state_bytes(ledger)
        out.append(
            f"| {n:,} | state file (with its WAL) | {size / MB:.1f} MB: "
            f"{size / n:.0f} bytes per series | | | |"
        )
        out += lines_of("memory_stages", f"loaded({n}, {str(ledger.path)!r})")
    return out


def loaded(n: int, path: str) -> list[str]:
    """The row of a restart: the daemon imported and the state file at `path` loaded by a
    fresh ledger (in this process, which must be new)."""
    import_daemon()
    from bench.ledger_render import FAMILY
    from exporter.ledger import Ledger
    from exporter.runtime.memory import release_free_memory

    ledger = Ledger(Path(path), max_series_per_family=n + 1)
    ledger.declare("t", [FAMILY])
    release_free_memory()
    memory = memory_kib()
    live, arenas = _pymalloc()
    ledger.close()
    return [
        f"| {n:,} | restarted: the state file loaded by a new process | "
        f"{memory.get('VmRSS', 0) / 1024:.0f} | {memory.get('VmHWM', 0) / 1024:.0f} "
        f"| {live / MB:.0f} | {arenas / MB:.0f} |"
    ]


def main() -> None:
    argv = sys.argv[1:]
    polls = 2
    if "--polls" in argv:
        at = argv.index("--polls")
        polls = int(argv[at + 1])
        del argv[at : at + 2]
    unchanged = "--unchanged" in argv
    if unchanged:
        argv.remove("--unchanged")
    sizes = [int(a) for a in argv] or [100_000]
    command = f"python -m bench.memory_stages {' '.join(map(str, sizes))}"
    command += f" --polls {polls}" if polls != 2 else ""
    print(machine_header(command + (" --unchanged" if unchanged else "")))
    print()
    print(
        "| series | after | RSS MB | peak RSS MB | small objects live MB | their arenas held MB |"
    )
    print("|---|---|---|---|---|---|")
    for n in sizes:  # a fresh process each, so one size's leftovers do not count for the next
        lines = lines_of("memory_stages", f"stages({n}, {polls}, {unchanged})")
        print(*lines, sep="\n", flush=True)


if __name__ == "__main__":
    main()
