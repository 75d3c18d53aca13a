"""Scrape cost and memory vs series count, side by side with the usual way.

Usage: python -m bench.scrape [--series N ...] [--seconds S] [--smoke]

For each N it starts two servers on 127.0.0.1, each in its own process:
- ours: N counter series folded into a real `Ledger` by one commit, rendered once, served by the
  exporter's own listener (`exporter.http.server`) from the pre-rendered bytes;
- baseline: the same N series served the usual way, a `prometheus_client` custom collector that
  builds and renders every series on every scrape (`start_http_server`).
and loads each with wrk (16 connections, one wrk thread: the machine has 2 cores) for the text
and OpenMetrics formats, plain and gzip. It prints two Markdown tables: throughput and latency
per variant, and per N the memory (RSS) and the bytes of ours.

`--during-only` gives only the table of wrk scrapes between and during back-to-back polls
(`--modes`; at 1M series, `--series 1000000 --modes process-idle process --seconds 120` measures
the defaults in about 8 minutes: a poll takes tens of seconds there, and one row should see
some end); `--first-load` the first load after a poll against the second; `--lone`
one client scraping once a second, as Prometheus does, between and during polls. RSS counts
every process of a server (its listener process too).
"""

from __future__ import annotations

import argparse
import http.client
import math
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.machine import machine_header
from testkit.memory import memory_kib
from testkit.processes import free_port

FAMILY_NAME = "bench_tokens_total"
LABELS = ("project_id", "model", "user_id")
NOW = 1_763_900_000
CONNECTIONS = 16
VARIANTS = {
    "text": {},
    "text+gzip": {"Accept-Encoding": "gzip"},
    "openmetrics": {"Accept": "application/openmetrics-text; version=1.0.0"},
    "openmetrics+gzip": {
        "Accept": "application/openmetrics-text; version=1.0.0",
        "Accept-Encoding": "gzip",
    },
}


PACE = 4.0  # seconds between polls in the "paced" mode: a first and a second load fit between


def label_values(i: int) -> tuple[str, str, str]:
    return (f"proj_{i % 97}", f"model-{i % 13}", f"user-{i}")


# --- the servers (run in their own process) ---------------------------------------------------


def serve_ours(n: int, port: int, rerender: str = "") -> None:
    """`rerender`: "" serves one rendering; "polls" runs polls back to back the daemon's way
    now (each commits every series risen by one, in a worker thread, then re-renders with the
    kept `Renderer` in a worker thread, both with the cyclic collector paused); "paced" the same
    with `PACE` seconds between polls; "before" the way before issue 17 (the commit on the
    event loop, the straightforward renderer, `testkit/reference_render.py`, in a worker thread);
    "process" polls back to back with the listener in its own process (the default of `run`),
    "process-idle" serves from that listener process and never polls (between polls, the
    defaults). Each poll prints `poll cpu=S` (the process's CPU seconds for the poll)."""
    import asyncio

    from prometheus_client import CollectorRegistry

    from exporter.cli.process import favour_the_event_loop
    from exporter.daemon.windows import next_window
    from exporter.exposition.render import Renderer
    from exporter.exposition.served import Exposition
    from exporter.http.listener_process import ListenerProcess, ListenerSettings
    from exporter.http.server import create_app, serve
    from exporter.http.state import ServerState
    from exporter.ledger import Ledger
    from exporter.model import Family, Flow, Kind, Stream, StreamRead
    from exporter.runtime.gc_pause import without_gc
    from exporter.runtime.memory import release_free_memory
    from testkit.reference_render import render as reference

    family = Family(FAMILY_NAME, Kind.COUNTER, "Tokens.", LABELS)
    stream = Stream("usage", 3600, 3 * 3600, 86400)
    renderer = Renderer()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "state.sqlite", max_series_per_family=n + 1)
        ledger.declare("bench", [family])
        window = next_window(stream, NOW, ledger.cursor("bench", stream.name))
        start = NOW - NOW % 3600
        flows = [
            Flow(family.name, label_values(i), start, start + 3600, float(i % 1000 + 1))
            for i in range(n)
        ]
        # The first commit and rendering as the daemon runs every poll's (the cyclic collector
        # paused, what they made frozen after): without it, a server that never polls again
        # (between polls) pays full collections over them on its first scrapes.
        began = time.perf_counter()
        without_gc(ledger.commit)(
            "bench", NOW, [(stream, StreamRead("usage", window.start, window.end, flows))]
        )
        commit = time.perf_counter() - began
        del flows
        began = time.perf_counter()
        state = ServerState(
            exposition=without_gc(
                lambda: renderer.render(ledger.samples("bench"), CollectorRegistry())
            )()
        )
        rendered = time.perf_counter() - began
        release_free_memory()  # as the daemon does after each rendering
        exposition = state.exposition
        assert exposition is not None
        rss = memory_kib()["VmRSS"]
        print(
            f"ready commit={commit:.2f} render={rendered:.2f} rss_kib={rss}"
            f" text={exposition.text_size} text_gzip={len(exposition.text_gzip)}"
            f" openmetrics={exposition.openmetrics_size}"
            f" openmetrics_gzip={len(exposition.openmetrics_gzip)}",
            flush=True,
        )
        polls = 0

        def fold() -> None:
            at = NOW + 60 * (polls + 1)
            risen = [
                Flow(family.name, label_values(i), start, start + 3600, float(i % 1000 + 1 + polls))
                for i in range(n)
            ]
            read = StreamRead("usage", window.start, window.end, risen)
            ledger.commit("bench", at, [(stream, read)])

        def again() -> Exposition:
            samples = ledger.samples("bench")
            if rerender == "before":
                exposition = reference(samples, CollectorRegistry())
            else:
                exposition = renderer.render(samples, CollectorRegistry())
            del samples
            release_free_memory()
            return exposition

        if rerender != "before":
            favour_the_event_loop()  # as `usage-exporter run` does

        async def forever() -> None:
            nonlocal polls
            if rerender in ("process", "process-idle"):  # run, the default
                listener = ListenerSettings(f"127.0.0.1:{port}", None, False, "warning", "logfmt")
                separate = ListenerProcess(listener)
                await separate.start(state, None)
                state.watchers.append(separate.publish)
            else:
                await serve(create_app(state), "127.0.0.1", port)
            while rerender and rerender != "process-idle":
                cpu = time.process_time()
                if rerender == "before":
                    fold()
                else:  # as the daemon does: in a thread, the cyclic collector paused
                    await asyncio.to_thread(without_gc(fold))
                state.exposition = await asyncio.to_thread(without_gc(again))
                state.changed()
                polls += 1
                print(f"poll cpu={time.process_time() - cpu:.3f}", flush=True)
                await asyncio.sleep(PACE if rerender == "paced" else 0.01)
            await asyncio.Event().wait()

        asyncio.run(forever())


def serve_baseline(n: int, port: int) -> None:
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily
    from prometheus_client.registry import Collector

    class Usage(Collector):
        """The usual exporter: every scrape builds and renders every series."""

        def collect(self):  # type: ignore[no-untyped-def]
            family = CounterMetricFamily(
                FAMILY_NAME.removesuffix("_total"), "Tokens.", labels=("target", *LABELS)
            )
            for i in range(n):
                family.add_metric(("bench", *label_values(i)), float(i % 1000 + 1))
            yield family

    registry = CollectorRegistry()
    registry.register(Usage())
    start_http_server(port, addr="127.0.0.1", registry=registry)
    print(f"ready rss_kib={memory_kib()['VmRSS']}", flush=True)
    while True:
        time.sleep(3600)


# --- the driver -------------------------------------------------------------------------------


def start_server(
    kind: str, n: int, rerender: str = ""
) -> tuple[subprocess.Popen[str], int, dict[str, str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.scrape", "serve", kind, str(n), str(port), rerender],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the server has built its data
    if not line.startswith("ready"):
        process.kill()
        raise RuntimeError(f"{kind} server for {n} series did not start: {line!r}")
    info = dict(part.split("=", 1) for part in line.split()[1:])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port, info
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{kind} server is not listening on {port}")


def one_request(port: int, headers: dict[str, str]) -> tuple[float, int]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        size = len(response.read())
    return time.perf_counter() - began, size


def wrk(port: int, headers: dict[str, str], seconds: float) -> dict[str, str]:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk not found: install the Debian package 'wrk'")
    argv = [binary, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    argv += ["--timeout", "60s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*argv, f"http://127.0.0.1:{port}/metrics"],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = re.search(r"Socket errors: (.*)|Non-2xx.*", out)
    return {
        "rps": rps.group(1) if rps else "0",
        "p50": p50.group(1) if p50 else "-",
        "p99": p99.group(1) if p99 else "-",
        "errors": errors.group(0) if errors else "",
    }


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and Pss (KiB) of `pid` and every process it started, summed (Linux): the
    listener process counts too; `listener` is its VmRSS alone. Summed, Pss counts a page the
    processes share once; VmRSS counts it in each."""
    total = memory_kib(pid)
    found = Path(f"/proc/{pid}/task/{pid}/children")
    children = found.read_text(encoding="ascii").split() if found.exists() else []
    for child in children:
        of_child = memory_kib(child)
        for key, kib in of_child.items():
            total[key] = total.get(key, 0) + kib
        if b"exporter.http.listener_main" in Path(f"/proc/{child}/cmdline").read_bytes():
            total["listener"] = total.get("listener", 0) + of_child.get("VmRSS", 0)
    return total


def during_polls(n: int, mode: str, seconds: float) -> dict[str, str]:
    """wrk (text+gzip) against a server polling back to back; its polls and RSS after."""
    busy, busy_port, _ = start_server("ours", n, mode)
    try:
        result = wrk(busy_port, VARIANTS["text+gzip"], seconds)
        memory = memory_of(busy.pid)
    finally:
        busy.kill()
        out, _ = busy.communicate()
    cpu = [float(line.split("=")[1]) for line in out.splitlines() if line.startswith("poll cpu=")]
    result["polls"] = str(len(cpu)) if mode != "process-idle" else "-"
    result["poll_cpu"] = f"{sum(cpu) / len(cpu):.2f}" if cpu else "-"
    result["rss"] = f"{memory.get('VmRSS', 0) / 1024:.0f}"
    result["pss"] = f"{memory.get('Pss', 0) / 1024:.0f}"
    result["hwm"] = f"{memory.get('VmHWM', 0) / 1024:.0f}"
    if "listener" in memory:
        result["listener"] = f"{memory['listener'] / 1024:.0f}"
    return result


def lone_scrapes(port: int, seconds: float) -> list[float]:
    """One text+gzip scrape a second on one kept-alive connection, as Prometheus scrapes:
    the latency of each (the whole body read), in ms."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    took: list[float] = []
    began = time.monotonic()
    try:
        for tick in range(max(1, round(seconds))):
            time.sleep(max(0.0, began + tick - time.monotonic()))
            start = time.perf_counter()
            connection.request("GET", "/metrics", headers=VARIANTS["text+gzip"])
            with connection.getresponse() as response:
                response.read()
                assert response.status == 200, response.status
            took.append((time.perf_counter() - start) * 1000)
    finally:
        connection.close()
    return took


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the least value with at least `share` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def lone(n: int, seconds: float) -> dict[str, list[float] | str]:
    """A lone scrape once a second with the defaults (the listener in its own process), from
    a server that never polls (between polls) and one polling back to back (during)."""
    result: dict[str, list[float] | str] = {}
    for mode, name in (("process-idle", "between"), ("process", "during")):
        server, port, _ = start_server("ours", n, mode)
        try:
            result[name] = lone_scrapes(port, seconds)
        finally:
            server.kill()
            out, _ = server.communicate()
        if mode == "process":
            result["polls"] = str(sum(line.startswith("poll cpu=") for line in out.splitlines()))
    return result


def run_lone(sizes: list[int], seconds: float) -> None:
    """The lone scrape once a second, between and during back-to-back polls, per N (R3e)."""
    command = f"python -m bench.scrape --lone --series {' '.join(map(str, sizes))}"
    print(
        machine_header(f"{command} --seconds {seconds:g}"),
        f"One client, one text+gzip scrape a second on a kept-alive connection for {seconds:g} s"
        " per server; the defaults (the listener in its own process); p99 is nearest-rank, so"
        f" with {round(seconds)} scrapes it is number {max(1, math.ceil(0.99 * round(seconds)))}"
        " of them in order.\n",
    )
    print(
        "| series | between polls: p50 / p99 / max ms | during back-to-back polls: p50 / p99 "
        "/ max ms | p99 during / between | p50 during / between | scrapes per server "
        "| polls done during |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        r = lone(n, seconds)
        between, during = r["between"], r["during"]
        assert isinstance(between, list) and isinstance(during, list)
        cells = [
            " / ".join(f"{percentile(v, q):.1f}" for q in (0.5, 0.99, 1.0))
            for v in (between, during)
        ]
        ratio = percentile(during, 0.99) / percentile(between, 0.99)
        ratio50 = percentile(during, 0.5) / percentile(between, 0.5)
        print(
            f"| {n:,} | {cells[0]} | {cells[1]} | {ratio:.1f}x | {ratio50:.1f}x "
            f"| {len(during)} | {r['polls']} |",
            flush=True,
        )


def first_loads(n: int, polls: int) -> dict[str, float]:
    """A load (wrk, 16 connections, 1 s, gzip) right after each of `polls` paced polls and a
    second load right after it: the medians and worst of their p99s, in ms. The server prints
    `poll cpu=` as it publishes a poll's bytes."""
    server, port, _ = start_server("ours", n, "paced")
    first: list[float] = []
    second: list[float] = []
    try:
        assert server.stdout is not None
        while len(first) < polls:
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("the paced server stopped")
            if line.startswith("poll cpu="):
                first.append(milliseconds(wrk(port, VARIANTS["text+gzip"], 1)["p99"]))
                second.append(milliseconds(wrk(port, VARIANTS["text+gzip"], 1)["p99"]))
    finally:
        server.kill()
        server.communicate()
    first.sort()
    second.sort()
    return {
        "first_median": first[len(first) // 2],
        "first_max": first[-1],
        "second_median": second[len(second) // 2],
        "second_max": second[-1],
    }


def milliseconds(text: str) -> float:
    """wrk's `12.34ms`, `1.02s` or `850.00us` in ms."""
    for unit, scale in (("ms", 1.0), ("us", 0.001), ("s", 1000.0), ("m", 60_000.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * scale
    raise ValueError(text)


def run_first_loads(sizes: list[int], polls: int) -> None:
    """The first load after a poll against the second, per N (R3a)."""
    command = f"python -m bench.scrape --first-load --series {' '.join(map(str, sizes))}"
    print(
        machine_header(command),
        f"{polls} paced polls per row; after each, two 1 s wrk loads"
        " (16 connections, text+gzip).\n",
    )
    print(
        "| series | first load after a poll: p99 ms, median / worst of polls "
        "| second load: p99 ms, median / worst | first / second (medians) |"
    )
    print("|---|---|---|---|")
    for n in sizes:
        r = first_loads(n, polls)
        print(
            f"| {n:,} | {r['first_median']:.1f} / {r['first_max']:.1f} "
            f"| {r['second_median']:.1f} / {r['second_max']:.1f} "
            f"| {r['first_median'] / r['second_median']:.1f}x |",
            flush=True,
        )


def print_during(during: dict[tuple[int, str], dict[str, str]]) -> None:
    print(
        "| series | text+gzip scrapes | req/s | p50 | p99 | polls done "
        "| process CPU s per poll (scrapes incl.) | RSS MB after | PSS MB after | peak RSS MB "
        "| of which the listener process RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    names = {
        "": "between polls",
        "polls": "during polls, one process (`--no-web.listener-process`)",
        "process": "during polls, listener in its own process (the default since round three)",
        "process-idle": "between polls, listener in its own process (the default)",
        "before": "during polls, before (commit on the loop, full render in a thread)",
    }
    for (n, mode), r in during.items():
        print(
            f"| {n:,} | {names[mode]} | {float(r['rps']):,.0f} | {r['p50']} | {r['p99']} "
            f"| {r.get('polls', '-')} | {r.get('poll_cpu', '-')} | {r.get('rss', '-')} "
            f"| {r.get('pss', '-')} | {r.get('hwm', '-')} | {r.get('listener', '-')} |"
        )


def run_during(
    sizes: list[int], seconds: float, modes: tuple[str, ...] = ("process", "polls", "before")
) -> None:
    """Only the scrapes-during-polls table: between polls, then each of `modes` (two processes,
    one process now, before issue 17); side by side per N."""
    command = (
        f"python -m bench.scrape --during-only --series {' '.join(map(str, sizes))}"
        f" --seconds {seconds:g}"
    )
    if modes != ("process", "polls", "before"):
        command += f" --modes {' '.join(modes)}"
    print(machine_header(command), f"wrk -t1 -c{CONNECTIONS} -d{seconds:g}s per row.\n")
    during: dict[tuple[int, str], dict[str, str]] = {}
    for n in sizes:
        ours, ours_port, _ = start_server("ours", n)
        try:
            during[(n, "")] = wrk(ours_port, VARIANTS["text+gzip"], seconds)
            memory = memory_of(ours.pid)
            during[(n, "")]["rss"] = f"{memory.get('VmRSS', 0) / 1024:.0f}"
            during[(n, "")]["pss"] = f"{memory.get('Pss', 0) / 1024:.0f}"
            during[(n, "")]["hwm"] = f"{memory.get('VmHWM', 0) / 1024:.0f}"
        finally:
            ours.kill()
            ours.wait()
        for mode in modes:
            during[(n, mode)] = during_polls(n, mode, seconds)
            print(during[(n, mode)], file=sys.stderr, flush=True)
    print_during(during)


def run(sizes: list[int], seconds: float, baseline_max_wrk: int) -> None:
    command = f"python -m bench.scrape --series {' '.join(map(str, sizes))} --seconds {seconds:g}"
    print(machine_header(command), f"wrk -t1 -c{CONNECTIONS} -d{seconds:g}s per variant.\n")
    throughput = [
        "| series | variant | ours req/s | ours p50 | ours p99 | baseline req/s | baseline p50 "
        "| baseline p99 | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    memory = [
        "| series | ours RSS MB | baseline peak RSS MB | commit s | render s | text MB "
        "| text gzip MB | OpenMetrics MB | OpenMetrics gzip MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    during: dict[tuple[int, str], dict[str, str]] = {}
    for n in sizes:
        ours, ours_port, info = start_server("ours", n)
        ours_results = {}
        try:
            for variant, headers in VARIANTS.items():
                ours_results[variant] = wrk(ours_port, headers, seconds)
            ours_rss = memory_kib(ours.pid)["VmRSS"]
        finally:
            ours.kill()
            ours.wait()
        during[(n, "")] = ours_results["text+gzip"]
        for mode in ("process", "polls", "before"):
            during[(n, mode)] = during_polls(n, mode, seconds)
        base, base_port, _ = start_server("baseline", n)
        try:
            for variant, headers in VARIANTS.items():
                mine = ours_results[variant]
                if n <= baseline_max_wrk:
                    theirs = wrk(base_port, headers, 2 * seconds)
                else:
                    tries = 3 if n <= 100_000 else 1
                    took = sorted(one_request(base_port, headers)[0] for _ in range(tries))
                    median = took[len(took) // 2]
                    theirs = {"rps": f"{1 / median:.3f}", "p50": f"{median:.2f}s", "p99": "-"}
                ratio = float(mine["rps"]) / max(float(theirs["rps"]), 1e-9)
                throughput.append(
                    f"| {n:,} | {variant} | {float(mine['rps']):,.0f} | {mine['p50']} "
                    f"| {mine['p99']} | {float(theirs['rps']):,.2f} | {theirs['p50']} "
                    f"| {theirs['p99']} | {ratio:,.0f}x |"
                )
                print(throughput[-1], file=sys.stderr, flush=True)
            base_rss = memory_kib(base.pid)["VmHWM"]
        finally:
            base.kill()
            base.wait()
        memory.append(
            f"| {n:,} | {ours_rss / 1024:.0f} | {base_rss / 1024:.0f} | {info['commit']} "
            f"| {info['render']} | {int(info['text']) / 1e6:.2f} | "
            f"{int(info['text_gzip']) / 1e6:.2f} | {int(info['openmetrics']) / 1e6:.2f} | "
            f"{int(info['openmetrics_gzip']) / 1e6:.2f} |"
        )
    print("\n".join(throughput))
    print()
    print("\n".join(memory))
    print()
    print_during(during)


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        kind, n, port = argv[1], int(argv[2]), int(argv[3])
        if kind == "ours":
            serve_ours(n, port, argv[4] if len(argv) > 4 else "")
        else:
            serve_baseline(n, port)
        return
    parser = argparse.ArgumentParser(prog="python -m bench.scrape")
    parser.add_argument("--series", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--seconds", type=float)
    parser.add_argument(
        "--baseline-max-wrk",
        type=int,
        default=10_000,
        help="above this, the baseline is timed on single sequential requests: under 16"
        " connections each of its scrapes takes longer than the run",
    )
    parser.add_argument("--smoke", action="store_true", help="1,000 series, 1 s per variant")
    parser.add_argument(
        "--during-only", action="store_true", help="only the scrapes-during-polls table"
    )
    parser.add_argument(
        "--first-load", action="store_true", help="only the first-load-after-a-poll table"
    )
    parser.add_argument("--polls", type=int, default=8, help="paced polls per --first-load row")
    parser.add_argument(
        "--lone",
        action="store_true",
        help="only the lone scrape once a second (Prometheus' pattern), between and during"
        " back-to-back polls, with the defaults; --seconds per server (default 120, so that"
        " p99 is not the worst of them)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("process", "polls", "before", "process-idle"),
        default=["process", "polls", "before"],
        help="--during-only: the poll modes to measure besides between polls",
    )
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 120.0 if args.lone else 10.0
    if args.smoke:
        args.series, args.seconds = [1000], 3.0 if args.lone else 1.0
    if args.lone:
        run_lone(args.series, args.seconds)
    elif args.first_load:
        run_first_loads(args.series, 2 if args.smoke else args.polls)
    elif args.during_only:
        run_during(args.series, args.seconds, tuple(args.modes))
    else:
        run(args.series, args.seconds, args.baseline_max_wrk)


if __name__ == "__main__":
    main(sys.argv[1:])
