"""A real Prometheus scrapes the chunked gzip form (one gzip member made of separately
compressed deflate segments, one per rendered chunk) without error, in both formats, before and
after a re-render that reuses some chunks and renders others anew; every sample it stores
equals the one rendered. A corrupted CRC in the same form is refused (up == 0)."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter.exposition.render import Renderer
from exporter.http.server import create_app, serve
from exporter.http.state import ServerState
from exporter.model import Family, FamilySamples, Kind, Sample
from tests.harness import HOST, free_port, http, promql, require_tool, running, wait_for

pytestmark = pytest.mark.e2e

TOKENS = Family("chunk_tokens_total", Kind.COUNTER, "Tokens.", ("project", "user"))
STORED = Family("chunk_stored_bytes", Kind.GAUGE, "Bytes.", ("bucket",), unit="bytes")
N = 3000


def families(step: int) -> list[FamilySamples]:
    """Step 0, then step 1: a tenth of the counters risen, a few series added, gauges changed."""
    count = N + (50 if step else 0)
    tokens = [
        Sample((f"p{i % 7}", f"u{i}"), float(i + 1 + (1000 if step and i % 10 == 0 else 0)), 1.7e9)
        for i in range(count)
    ]
    stored = [Sample((f"b{i}",), float(i * 100 + step)) for i in range(300)]
    return [FamilySamples(TOKENS, "a", tokens), FamilySamples(STORED, "a", stored)]


def without_accept(app: ASGIApp) -> ASGIApp:
    """Prometheus 2.42 always prefers OpenMetrics: this listener hides its Accept header, so the
    same exporter app answers it in the text format."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept"]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return wrapped


@contextmanager
def listeners(state: ServerState, bad: ServerState) -> Iterator[tuple[int, int, int]]:
    """The exporter's own listener on loopback ports: as is, with Accept removed, and serving
    `bad` (a corrupted member: shows that Prometheus does check what it reads)."""
    loop = asyncio.new_event_loop()
    ports = (free_port(), free_port(), free_port())
    started = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        app = create_app(state)
        servers = [
            await serve(app, HOST, ports[0]),
            await serve(without_accept(app), HOST, ports[1]),  # type: ignore[arg-type]
            await serve(create_app(bad), HOST, ports[2]),
        ]
        started.set()
        await stop.wait()
        for server in servers:
            server.should_exit = True
        for server in servers:
            await server.task

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(30), "listeners did not start"
    try:
        yield ports
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def test_prometheus_reads_concatenated_gzip_members(tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    renderer = Renderer()
    renderer.CHUNK = 64  # many members: about 50 for the counters alone
    state = ServerState(exposition=renderer.render(families(0), CollectorRegistry()))
    assert state.exposition is not None
    segments = state.exposition.openmetrics_gzip.count(b"\x00\x00\xff\xff")  # sync flushes
    assert segments > 40, segments
    good = state.exposition.openmetrics_gzip
    corrupt = good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:]  # the trailer's CRC-32
    bad = ServerState(exposition=dataclasses.replace(state.exposition, openmetrics_gzip=corrupt))
    with listeners(state, bad) as (om_port, text_port, bad_port):
        status, body, headers = http(
            f"http://{HOST}:{om_port}/metrics", headers={"Accept-Encoding": "gzip"}
        )
        assert status == 200 and headers.get("content-encoding") == "gzip"
        assert gzip.decompress(body) == state.exposition.text
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n"
            f"  - job_name: om\n    static_configs: [{{targets: ['{HOST}:{om_port}']}}]\n"
            f"  - job_name: text\n    static_configs: [{{targets: ['{HOST}:{text_port}']}}]\n"
            f"  - job_name: bad\n    static_configs: [{{targets: ['{HOST}:{bad_port}']}}]\n"
        )
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={HOST}:{port}",
            "--log.level=warn",
        ]
        with running(
            "prometheus",
            argv,
            tmp_path / "prometheus.log",
            f"http://{HOST}:{port}",
            ready_path="/-/ready",
            timeout=60,
        ) as prom:
            for step in (0, 1):
                if step:
                    state.exposition = renderer.render(families(1), CollectorRegistry())
                expected = {s.labels[1]: s.value for s in families(step)[0].samples}
                gauges = sum(s.value for s in families(step)[1].samples)

                def scraped(expected: dict[str, float] = expected, gauges: float = gauges) -> bool:
                    for job in ("om", "text"):
                        up = promql(prom.url, f'up{{job="{job}"}}')
                        if not up or up[0]["value"][1] != "1":
                            return False
                        got = promql(prom.url, f'chunk_tokens_total{{job="{job}"}}')
                        values = {r["metric"]["user"]: float(r["value"][1]) for r in got}
                        if values != expected:
                            return False
                        total = promql(prom.url, f'sum(chunk_stored_bytes{{job="{job}"}})')
                        if not total or float(total[0]["value"][1]) != gauges:
                            return False
                    return True

                wait_for(scraped, f"Prometheus to store step {step} from both forms", 60)
            for job in ("om", "text"):
                samples = promql(prom.url, f'scrape_samples_scraped{{job="{job}"}}')
                series = N + 50 + 300
                assert float(samples[0]["value"][1]) >= series, samples
            bad_up = promql(prom.url, 'up{job="bad"}')
            assert bad_up and bad_up[0]["value"][1] == "0", bad_up
