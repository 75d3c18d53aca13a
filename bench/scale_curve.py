"""The scale curve: fold CPU, render CPU, the RSS of every process and the state file's size at
10k, 100k and 1M series, with the growth factor per 10x (issue 26: linear or better, at most 10x).

Usage: python -m bench.scale_curve [N ...] [--polls K]   (default 10000 100000 1000000, 3 polls)

Each N runs in a fresh process the daemon's way with the defaults: the daemon imported, N series
of one family folded into a real ledger by a first poll (every series new), then K - 1 polls
re-reading every series risen; each poll's commit (fold + SQLite) and its `samples()` plus the
kept `Renderer`'s two gzip variants run with the cyclic collector paused, their CPU seconds taken
(`time.process_time`: the machine is shared); each rendering is published to a listener process
(the default since round three) and freed memory trimmed. After the last poll one scrape of each
variant is read from the listener, then the memory of every process is summed, the ledger's and
the listener's: as RSS, and as PSS, which counts a page both processes map (the interpreter and
its shared libraries) once. The ledger, its rows and the state file's size come from
`bench.ledger_render` (as `bench.memory_stages` uses them).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time

from bench.fresh import import_daemon
from bench.machine import machine_header
from bench.scrape import VARIANTS, memory_of
from testkit.memory import memory_kib
from testkit.processes import free_port, http, wait_for

MB = 1024 * 1024


def measure(n: int, polls: int) -> dict[str, float]:
    """The figures of N series over `polls` polls, measured in this process (see above)."""
    import_daemon()
    imported = memory_kib()["VmRSS"]
    from prometheus_client import CollectorRegistry

    from bench.ledger_render import NOW, STREAM, bench_ledger, rows, state_bytes
    from exporter.daemon.windows import next_window
    from exporter.exposition.render import Renderer
    from exporter.http.listener_process import ListenerProcess, ListenerSettings
    from exporter.http.state import ServerState
    from exporter.model import StreamRead
    from exporter.runtime.gc_pause import gc_paused
    from exporter.runtime.memory import release_free_memory

    fold: list[float] = []
    render: list[float] = []
    port = free_port()
    listener = ListenerProcess(
        ListenerSettings(f"127.0.0.1:{port}", None, False, "warning", "logfmt")
    )
    state = ServerState()
    with bench_ledger(n) as (ledger, _, start):
        renderer = Renderer()
        registry = CollectorRegistry()
        for poll in range(polls):
            window = next_window(STREAM, NOW + 60 * poll, ledger.cursor("t", STREAM.name))
            read = StreamRead(STREAM.name, window.start, window.end, rows(n, start, poll))
            with gc_paused():
                began = time.process_time()
                ledger.commit("t", NOW + 60 * poll, [(STREAM, read)])
                fold.append(time.process_time() - began)
            del read
            with gc_paused():
                began = time.process_time()
                state.exposition = renderer.render(ledger.samples("t"), registry)
                render.append(time.process_time() - began)
            release_free_memory()
            if poll == 0:
                asyncio.run(listener.start(state, None))
            else:
                listener.publish(state)
        assert state.exposition is not None
        served = scrape_each_variant(port, state.exposition.text)
        memory = memory_of(os.getpid())
        own = memory_kib()["VmRSS"]
        size = state_bytes(ledger)
    listener.close()
    return {
        "fold_first": fold[0],
        "fold_reread": min(fold[1:], default=fold[0]),
        "render_first": render[0],
        "render_reread": min(render[1:], default=render[0]),
        "rss": memory.get("VmRSS", 0) / 1024,
        "pss": memory.get("Pss", 0) / 1024,
        "hwm": memory.get("VmHWM", 0) / 1024,
        "listener": memory.get("listener", 0) / 1024,
        "own": own / 1024,
        "imported": imported / 1024,
        "state": size,
        "served": served,
    }


def scrape_each_variant(port: int, text: bytes, wait: float = 300.0) -> float:
    """Once the listener serves `text` (the last snapshot may still be on its way down the
    pipe), read each variant once from it; the bytes read, in MB."""
    wait_for(lambda: get(port, VARIANTS["text"]) == text, "the last snapshot served", wait, 0.5)
    return sum(len(get(port, headers)) for headers in VARIANTS.values()) / 1e6


def get(port: int, headers: dict[str, str]) -> bytes:
    status, body, _ = http(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=300)
    if status != 200:
        raise RuntimeError(f"the listener answered {status}")
    return body


def growth(small: float, large: float) -> str:
    return f"{large / small:.1f}x" if small > 0 else "-"


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["measure"]:
        print(json.dumps(measure(int(argv[1]), int(argv[2]))))
        return
    polls = 3
    if "--polls" in argv:
        at = argv.index("--polls")
        polls = int(argv[at + 1])
        del argv[at : at + 2]
    sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
    command = f"python -m bench.scale_curve {' '.join(map(str, sizes))}"
    print(machine_header(command + (f" --polls {polls}" if polls != 3 else "")))
    print(
        f"\n{polls} polls per N (the first makes every series, each later one re-reads every"
        " series risen); CPU of a re-read poll: the least of them. RSS after the last poll and"
        " a scrape of each variant: every process (the ledger's and the listener's), summed as RSS"
        " (a page both map counted twice: the interpreter, libssl, the shared libraries) and as"
        " PSS (`Pss` of /proc/PID/smaps_rollup: such a page counted once, split between them).\n"
    )
    print(
        "| series | fold CPU s: first poll / re-read | render CPU s (samples() + 2 gzip variants):"
        " first / re-read | RSS MB, all processes | PSS MB, all processes | of which the listener"
        " RSS MB | peak RSS MB"
        " (sum of peaks) | daemon imported, RSS MB | state file MB | bytes per series |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    measured: dict[int, dict[str, float]] = {}
    for n in sizes:  # a fresh process each, so one size's leftovers do not count for the next
        result = subprocess.run(
            [sys.executable, "-m", "bench.scale_curve", "measure", str(n), str(polls)],
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
        r = measured[n] = json.loads(result.stdout.splitlines()[-1])
        print(
            f"| {n:,} | {r['fold_first']:.3f} / {r['fold_reread']:.3f} "
            f"| {r['render_first']:.3f} / {r['render_reread']:.3f} "
            f"| {r['rss']:.0f} | {r['pss']:.0f} | {r['listener']:.0f} | {r['hwm']:.0f} "
            f"| {r['imported']:.0f} "
            f"| {r['state'] / MB:.1f} | {r['state'] / n:.0f} |",
            flush=True,
        )
    print(
        "\n| from → to series | fold CPU, re-read | render CPU, re-read | RSS, all processes "
        "| the ledger's process: RSS above the imported daemon | state file |"
    )
    print("|---|---|---|---|---|---|")
    ordered = sorted(measured)
    for small, large in itertools.pairwise(ordered):
        a, b = measured[small], measured[large]
        print(
            f"| {small:,} → {large:,} ({large / small:g}x) "
            f"| {growth(a['fold_reread'], b['fold_reread'])} "
            f"| {growth(a['render_reread'], b['render_reread'])} "
            f"| {growth(a['rss'], b['rss'])} "
            f"| {growth(a['own'] - a['imported'], b['own'] - b['imported'])} "
            f"| {growth(a['state'], b['state'])} |"
        )


if __name__ == "__main__":
    main()
