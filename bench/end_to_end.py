"""End to end: one upstream answer of N result rows to the new bytes being served, per stage.

Usage: python -m bench.end_to_end [N ...]   (default 100000)

An OpenAI `/v1/organization/usage/embeddings` page of N results (grouped by project, user, API
key and model; each result carries two quantities, so N rows make 2N series) is parsed the
source's way (read over loopback HTTP with httpx from a server in another process, so only
the reading side's CPU counts; `json.loads`, then `BucketParser`), folded into a real ledger,
read back with `samples()` and rendered by the kept `Renderer`, both gzip variants. Two polls: the
first (every series new) and a steady one (the same rows re-read, every value risen). Prints per
stage the CPU seconds (`time.process_time`; the machine is shared) and its share, and the CPU per
100k rows and per 100k changed series. The fold, `samples()` and the rendering run with the cyclic
garbage collector paused, as the daemon runs them.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from exporter.daemon.windows import next_window
from exporter.exposition.render import Renderer
from exporter.ledger import Ledger
from exporter.model import Stream, StreamRead
from exporter.runtime.gc_pause import gc_paused
from exporter.vendors.openai.api import ENDPOINTS
from exporter.vendors.openai.metrics import FAMILIES
from exporter.vendors.openai.parse import BucketParser
from testkit.processes import HOST, free_port, running

NOW = 1_763_900_000
STREAM = Stream("embeddings", 3600, 3 * 3600, 86400)
STAGES = (
    "HTTP read",
    "JSON parse",
    "rows to flows",
    "fold + SQLite",
    "samples()",
    "render (2 gzip variants)",
)


def page(n: int, start: int, extra: int) -> bytes:
    results = [
        {
            "object": "organization.usage.embeddings.result",
            "input_tokens": 1000 + i % 977 + extra,
            "num_model_requests": 1 + i % 31 + extra,
            "project_id": f"proj_{i % 97:04d}",
            "user_id": f"user-{i}",
            "api_key_id": f"key_{i % 389:05d}",
            "model": f"text-embedding-{i % 3}",
        }
        for i in range(n)
    ]
    bucket = {"object": "bucket", "start_time": start, "end_time": start + 3600}
    return json.dumps(
        {"object": "page", "data": [{**bucket, "results": results}], "has_more": False}
    ).encode()


@contextlib.contextmanager
def served(directory: Path) -> Iterator[str]:
    """A loopback HTTP server of `directory`'s files in a process of its own (its CPU is not
    this process's), up until the block ends."""
    port = free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", HOST, str(port), "--directory"]
    url = f"http://{HOST}:{port}"
    with running("http.server", [*argv, str(directory)], directory / "server.log", url):
        yield url


def measure(n: int) -> list[str]:
    rows: list[str] = []
    start = NOW - NOW % 3600
    renderer = Renderer()
    with (
        tempfile.TemporaryDirectory() as tmp,
        served(Path(tmp)) as url,
        httpx.Client(timeout=60) as client,
    ):
        ledger = Ledger(Path(tmp) / "l.sqlite", max_series_per_family=2 * n + 1)
        ledger.declare("t", list(FAMILIES))
        for poll, name in enumerate(("first poll (all new)", "steady poll (all risen)")):
            (Path(tmp) / f"page{poll}.json").write_bytes(page(n, start, poll))
            now = NOW + 60 * poll
            window = next_window(STREAM, now, ledger.cursor("t", STREAM.name))
            cpu: list[float] = []
            began = time.process_time()
            body = client.get(f"{url}/page{poll}.json").raise_for_status().content
            cpu.append(time.process_time() - began)
            began = time.process_time()
            data = json.loads(body)
            cpu.append(time.process_time() - began)
            began = time.process_time()
            parser = BucketParser(ENDPOINTS["embeddings"])
            flows = [flow for bucket in data["data"] for flow in parser.bucket(bucket)]
            cpu.append(time.process_time() - began)
            del data
            began = time.process_time()
            read = StreamRead(STREAM.name, window.start, window.end, flows)
            with gc_paused():  # as the daemon commits and renders
                ledger.commit("t", now, [(STREAM, read)])
            cpu.append(time.process_time() - began)
            with gc_paused():
                began = time.process_time()
                families = ledger.samples("t")
                cpu.append(time.process_time() - began)
                began = time.process_time()
                exposition = renderer.render(families, CollectorRegistry())
                cpu.append(time.process_time() - began)
            total = sum(cpu)
            shares = " | ".join(f"{c:.2f} ({c / total:.0%})" for c in cpu)
            rows.append(
                f"| {n:,} | {len(flows):,} | {name} | {len(body) / 1e6:.1f} | {shares} "
                f"| {total:.2f} | {total * 100_000 / n:.2f} | {total * 100_000 / len(flows):.2f} "
                f"| {len(exposition.openmetrics_gzip) / 1e6:.2f} |"
            )
        ledger.close()
    return rows


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    print(f"Command: `python -m bench.end_to_end {' '.join(map(str, sizes))}`\n")
    print(
        "| rows | series | poll | answer MB | "
        + " | ".join(f"{s} CPU s (share)" for s in STAGES)
        + " | total CPU s | CPU s per 100k rows | CPU s per 100k series"
        + " | OpenMetrics gzip MB served |"
    )
    print("|" + "---|" * (len(STAGES) + 8))
    for n in sizes:
        for row in measure(n):
            print(row, flush=True)


if __name__ == "__main__":
    main()
