"""The listener: content negotiation from pre-rendered bytes, health, readiness, the index page."""

from __future__ import annotations

import gzip

import httpx
from prometheus_client import CollectorRegistry

from exporter.exposition.render import render
from exporter.http.server import SlicedResponse, create_app, serve
from exporter.http.state import ServerState, TargetStatus, parse_listen_address
from exporter.model import Family, FamilySamples, Kind, Sample
from testkit.reference_render import render as reference

FAMILY = Family("x_total", Kind.COUNTER, "X.", ("k",))
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def state() -> ServerState:
    s = ServerState()
    s.targets["a<b>"] = TargetStatus("a<b>", "openai", False, False, None, "<script>")
    return s


async def get(app_state: ServerState, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(app_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_metrics_before_the_first_render_is_503_then_negotiated() -> None:
    s = state()
    assert (await get(s, "/metrics")).status_code == 503
    s.exposition = render(
        [FamilySamples(FAMILY, "a", [Sample(("v",), 2, 1.0)])], CollectorRegistry()
    )
    plain = await get(s, "/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert plain.content == s.exposition.text
    om = await get(
        s,
        "/metrics",
        accept="application/openmetrics-text; version=1.0.0",
        **{"accept-encoding": "gzip"},
    )
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.headers["content-encoding"] == "gzip"
    assert om.content == s.exposition.openmetrics  # httpx decodes gzip
    assert gzip.decompress(s.exposition.openmetrics_gzip) == om.content


async def test_a_plain_scrape_is_inflated_slice_by_slice_and_exact() -> None:
    """The exposition is kept gzip only: a plain scrape of several slices gets the reference
    renderer's plain bytes, its Content-Length their length, and HEAD the headers alone."""
    samples = [Sample((f"value-{i}" * 8,), float(i), 1.7e9) for i in range(20_000)]
    families = [FamilySamples(FAMILY, "a", samples)]
    s = state()
    s.exposition = render(families, CollectorRegistry())
    want = reference(families, CollectorRegistry())
    text, om = gzip.decompress(want.text_gzip), gzip.decompress(want.openmetrics_gzip)
    assert len(text) > 4 * SlicedResponse.SLICE  # several slices
    server = await serve(create_app(s), "127.0.0.1", 0)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with httpx.AsyncClient() as client:
            plain = await client.get(url, headers={"accept-encoding": "identity"})
            openmetrics = await client.get(
                url, headers={"accept-encoding": "identity", "accept": OPENMETRICS}
            )
            head = await client.head(url, headers={"accept-encoding": "identity"})
    finally:
        server.should_exit = True
        await server.task
    assert "content-encoding" not in plain.headers
    assert plain.content == text and int(plain.headers["content-length"]) == len(text)
    assert openmetrics.content == om and int(openmetrics.headers["content-length"]) == len(om)
    assert head.content == b"" and int(head.headers["content-length"]) == len(text)
    assert (s.exposition.text_size, s.exposition.openmetrics_size) == (len(text), len(om))


async def test_readiness_and_escaped_index() -> None:
    s = state()
    assert (await get(s, "/healthz")).status_code == 200
    assert (await get(s, "/readyz")).status_code == 503
    page = (await get(s, "/")).text
    assert "&lt;script&gt;" in page and "<script>" not in page and "a&lt;b&gt;" in page
    s.targets["a<b>"].polled = True
    assert (await get(s, "/readyz")).status_code == 200


async def test_serves_over_loopback() -> None:
    s = state()
    s.exposition = render([], CollectorRegistry())
    server = await serve(create_app(s), "127.0.0.1", 0)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
    finally:
        server.should_exit = True
        await server.task


def test_listen_addresses() -> None:
    assert parse_listen_address(":9868") == ("0.0.0.0", 9868)
    assert parse_listen_address("127.0.0.1:1") == ("127.0.0.1", 1)
    assert parse_listen_address("[::1]:9868") == ("::1", 9868)
    for bad in ("9868", "host:", "host:99999", "host:x"):
        try:
            parse_listen_address(bad)
        except ValueError as err:
            assert "HOST:PORT" in str(err)
        else:
            raise AssertionError(bad)
