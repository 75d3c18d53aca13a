"""Hostile upstream answers, end to end: through the real source parsers, the ledger (SQLite) and
the renderer, in-process (httpx.MockTransport) and as a real process against a hostile HTTP
server on loopback.

Label values with quotes, backslashes, newlines, NUL and other control characters, lone
surrogates and a megabyte of text must come out escaped and bounded (`MAX_LABEL_LENGTH`), parse
back with prometheus_client's text and OpenMetrics parsers, and pass `promtool check metrics`.
A flood of distinct label values is held by `max_series_per_family` with exact sums, and a body
over `max_body_bytes` (declared, streamed, or a gzip bomb) or not UTF-8 is refused whole.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.config.load import Config
from exporter.daemon import Daemon
from exporter.ledger import OVERFLOW
from exporter.model import MAX_LABEL_LENGTH
from exporter.vendors import kinds
from tests.harness import (
    HOST,
    exporter,
    http,
    require_tool,
    scrape,
    success_polls,
    wait_for,
)

# Distinct after bounding and UTF-8 repair, so each must come out as its own series.
HOSTILE: dict[str, str] = {
    "quote": 'say "hi"',
    "backslash": "C:\\temp\\",
    "newline": "line one\nline two",
    "crlf": "a\r\nb",
    "nul": "nul\x00byte",
    "controls": "".join(chr(c) for c in range(1, 32)),
    "del_and_c1": "\x7f\x80\x9f",
    "ansi": "\x1b[31mred\x1b[0m",
    "lone_high_surrogate": "high \ud800",
    "lone_low_surrogate": "low \udfff",
    "exposition_syntax": '}{target="forged",x=\\"',
    "comment": "# EOF",
    "unicode": "é ✓ 𝄞 \u2028 \ufeff",
    "huge": "H" * 1_000_000,
}
VALUES = list(HOSTILE.values())
FLOOD = 200_000  # distinct label values in one poll


def rendered(value: str) -> str:
    """What the exposition promises for an upstream label value: bounded, valid UTF-8."""
    return value[:MAX_LABEL_LENGTH].encode("utf-8", "replace").decode("utf-8")


def this_hour_minus_one() -> int:
    """A closed bucket inside every stream's lookback (3 h) for the rest of the test."""
    return int(time.time()) // 3600 * 3600 - 3600


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def openai_page(
    hour: int, endpoint: str, labels: tuple[str, ...], counted: str, values: list[str]
) -> dict[str, Any]:
    """An OpenAI usage page, the last, of one hourly bucket: a result per value, with each of
    `labels` set to the value and `counted` to its position + 1."""
    results = [
        {
            "object": f"organization.usage.{endpoint}.result",
            **dict.fromkeys(labels, v),
            counted: i + 1,
        }
        for i, v in enumerate(values)
    ]
    bucket = {"object": "bucket", "start_time": hour, "end_time": hour + 3600, "results": results}
    return {"object": "page", "data": [bucket], "has_more": False, "next_page": None}


def hostile_answer(
    hour: int, values: list[str]
) -> Callable[[str, Mapping[str, str]], tuple[int, bytes]]:
    """One HTTP answer per upstream path, every label value taken from `values`; the i-th value
    carries the quantity i + 1, so a series can be traced back to its input."""

    def answer(path: str, query: Mapping[str, str]) -> tuple[int, bytes]:
        body: Any
        if path == "/v1/organization/usage/completions":
            body = openai_page(hour, "completions", ("project_id", "model"), "input_tokens", values)
        elif path == "/v1/organization/usage/decisions":
            labels = ("model", "api_source")
            body = openai_page(hour, "decisions", labels, "num_model_requests", values)
        elif path == "/api/v2/usage/tokens":
            body = []
            if query.get("start_time") == iso(hour):
                body = [
                    {"rule_type": v, "task_id": v, "count": {"inference": i + 1}}
                    for i, v in enumerate(values)
                ]
        elif path.endswith("/usage/api"):
            categories = [{"category": v, "ops": i + 1} for i, v in enumerate(values)]
            body = {"data": [{"timestamp": iso(hour), "categories": categories}]}
        elif path.endswith("/usage/storage"):
            body = {"data": [{"size": 10, "num_objects": 1, "timestamp": iso(hour)}]}
        elif path == "/v1/developer/usage":
            body = {
                "success": True,
                "timeSeries": [{"timestamp": iso(hour), "requests": 5}],
                "breakdown": {
                    "byEndpoint": [{"endpoint": v, "requests": i + 1} for i, v in enumerate(values)]
                },
                "errors": {"byType": [{"type": v, "count": i + 1} for i, v in enumerate(values)]},
                "alerts": [{"type": v, "priority": v} for v in values],
            }
        elif path == "/v1/organizations/usage_report/messages":
            results = [
                {"workspace_id": v, "model": v, "output_tokens": i + 1}
                for i, v in enumerate(values)
            ]
            bucket = {"starting_at": iso(hour), "ending_at": iso(hour + 3600), "results": results}
            body = {"data": [bucket], "has_more": False, "next_page": None}
        elif path == "/v1/organizations/cost_report":
            day = hour - hour % 86400
            results = [
                {"workspace_id": v, "description": v, "model": v, "amount": f"{i + 1}.0"}
                for i, v in enumerate(values)
            ]
            bucket = {"starting_at": iso(day), "ending_at": iso(day + 86400), "results": results}
            body = {"data": [bucket], "has_more": False, "next_page": None}
        elif path == "/api/v1/developer/usage":  # an upstream whose error message is hostile
            return 200, json.dumps(
                {
                    "success": False,
                    "error": "EVIL",
                    "message": "<script>alert(1)</script>\nlevel=error msg=forged \x1b[2J",
                }
            ).encode()
        else:
            return 404, b'{"detail": "no such path"}'
        return 200, json.dumps(body).encode()  # ensure_ascii: surrogates and NUL as \u escapes

    return answer


def mock(answer: Callable[[str, Mapping[str, str]], tuple[int, bytes]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = answer(request.url.path, dict(request.url.params))
        return httpx.Response(status, content=body)

    return httpx.MockTransport(handler)


BASE = "http://127.0.0.1:1"  # never dialled: the mock transport answers


def hostile_sources(base_url: str) -> list[dict[str, Any]]:
    """One target of every kind: openai `oa`, arthur `ar`, telnyx `tx`, anylayer `al`,
    anthropic `an`."""
    common = {"base_url": base_url, "interval": 60, "retries": 0, "backfill": 6 * 3600}
    kinds: list[dict[str, Any]] = [
        {
            "kind": "openai",
            "name": "oa",
            "api_key": "sk-admin-h",
            "endpoints": ["completions", "decisions"],
        },
        {"kind": "arthur", "name": "ar", "api_key": "arthur-h"},
        {"kind": "telnyx", "name": "tx", "api_key": "KEY-h", "buckets": ["b"]},
        {"kind": "anylayer", "name": "al", "api_key": "zk-h"},
        {
            "kind": "anthropic",
            "name": "an",
            "api_key": "sk-ant-admin01-h",
            "group_by": ["workspace_id", "model"],
            "resources": {"workspaces": False, "api_keys": False, "users": False},
        },
    ]
    return [{**common, **kind} for kind in kinds]


def test_every_registered_vendor_has_a_hostile_target_and_checks() -> None:
    """The hostile answers below are written per vendor API: a registered vendor without its
    target here, or without a family checked, fails until it has them."""
    kind_of = {s["name"]: s["kind"] for s in hostile_sources(BASE)}
    assert sorted(kind_of.values()) == sorted(kinds())
    assert {kind_of[target] for target, _, _ in CHECKS.values()} == set(kinds())


# family -> (target, label names that carry the hostile value, value of the i-th input)
CHECKS: dict[str, tuple[str, tuple[str, ...], Callable[[int], float]]] = {
    "openai_input_tokens_total": ("oa", ("project_id", "model"), lambda i: i + 1.0),
    "openai_model_requests_total": ("oa", ("model", "api_source"), lambda i: i + 1.0),
    "arthur_inference_tokens_total": ("ar", ("rule_type", "task_id"), lambda i: i + 1.0),
    "telnyx_storage_operations_total": ("tx", ("category",), lambda i: i + 1.0),
    "anylayer_endpoint_requests": ("al", ("endpoint",), lambda i: i + 1.0),
    "anylayer_errors": ("al", ("type",), lambda i: i + 1.0),
    "anylayer_alerts": ("al", ("type", "priority"), lambda i: 1.0),
    "anthropic_output_tokens_total": ("an", ("workspace_id", "model"), lambda i: i + 1.0),
    # amounts are cents: `"{i + 1}.0"` is (i + 1) / 100 dollars
    "anthropic_cost_usd_total": ("an", ("workspace_id", "model"), lambda i: (i + 1) / 100),
}

Sample = tuple[str, dict[str, str], float]


def samples_of(text: str, openmetrics: bool = False) -> list[Sample]:
    parse = parse_om if openmetrics else parse_text
    return [(s.name, dict(s.labels), s.value) for f in parse(text) for s in f.samples]


def assert_hostile_values_round_trip(samples: list[Sample]) -> None:
    for family, (target, names, expected) in CHECKS.items():
        series = [(labels, value) for name, labels, value in samples if name == family]
        series = [(labels, value) for labels, value in series if labels["target"] == target]
        assert len(series) == len(VALUES), (family, len(series))
        by_value = {labels[names[0]]: (labels, value) for labels, value in series}
        for i, raw in enumerate(VALUES):
            want = rendered(raw)
            assert want in by_value, (family, list(HOSTILE)[i])
            labels, value = by_value[want]
            assert all(labels[n] == want for n in names), (family, list(HOSTILE)[i])
            assert value == expected(i), (family, list(HOSTILE)[i], value)


def assert_promtool_accepts(text: bytes) -> None:
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b"", result


def assert_bounded(text: bytes) -> None:
    # Every label value is at most MAX_LABEL_LENGTH characters before escaping (at most 2 bytes
    # of escape and 4 of UTF-8 each); a series has at most 8 labels.
    longest = max(len(line) for line in text.split(b"\n"))
    assert longest < 8 * (MAX_LABEL_LENGTH * 8 + 64), longest


# -- in process: parsers, ledger, renderer ----------------------------------------------------


async def test_hostile_label_values_are_escaped_bounded_and_round_trip(tmp_path: Path) -> None:
    hour = this_hour_minus_one()
    config = Config.model_validate(
        {"state_dir": str(tmp_path / "state"), "sources": hostile_sources(BASE)}
    )
    daemon = Daemon(config, transport=mock(hostile_answer(hour, VALUES)))
    try:
        assert await daemon.poll_all(), {n: t.last_error for n, t in daemon.state.targets.items()}
        out = daemon.state.exposition
        assert out is not None
    finally:
        await daemon.aclose()

    assert_hostile_values_round_trip(samples_of(out.text.decode()))
    om = samples_of(out.openmetrics.decode(), openmetrics=True)
    assert_hostile_values_round_trip(om)
    created = [s for s in om if s[0] == "telnyx_storage_operations_created"]
    assert len(created) == len(VALUES)
    assert gzip.decompress(out.text_gzip) == out.text
    assert gzip.decompress(out.openmetrics_gzip) == out.openmetrics
    assert_bounded(out.text)
    assert_bounded(out.openmetrics)
    assert len(out.text) < 1_000_000, "megabyte labels must not reach the exposition"
    assert_promtool_accepts(out.text)

    # The hostile values survive SQLite: a restarted daemon renders the very same series.
    again = Daemon(config, transport=mock(hostile_answer(hour, VALUES)))
    try:
        restored = again.state.exposition
        assert restored is not None
        usage = [s for s in samples_of(restored.text.decode()) if s[0] in CHECKS]
        assert sorted(map(repr, usage)) == sorted(
            repr(s) for s in samples_of(out.text.decode()) if s[0] in CHECKS
        )
    finally:
        await again.aclose()


async def test_values_equal_after_bounding_are_one_series(tmp_path: Path) -> None:
    hour = this_hour_minus_one()
    values = ["x" * 300 + "a", "x" * 300 + "b", "dup \ud800", "dup \udc00"]
    config = Config.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "sources": [s for s in hostile_sources(BASE) if s["kind"] == "telnyx"],
        }
    )
    daemon = Daemon(config, transport=mock(hostile_answer(hour, values)))
    try:
        assert await daemon.poll_all()
        out = daemon.state.exposition
        assert out is not None
    finally:
        await daemon.aclose()
    for text, openmetrics in ((out.text, False), (out.openmetrics, True)):
        ops = [
            (name, tuple(sorted(labels.items())), value)
            for name, labels, value in samples_of(text.decode(), openmetrics)
            if name == "telnyx_storage_operations_total"
        ]
        duplicates = [k for k, n in Counter((n, lb) for n, lb, _ in ops).items() if n > 1]
        assert not duplicates, f"{len(duplicates)} label sets rendered more than once"
        assert sum(v for *_, v in ops) == 1 + 2 + 3 + 4


async def test_invalid_utf8_in_a_body_fails_the_read_and_counts_nothing(tmp_path: Path) -> None:
    hour = this_hour_minus_one()
    good = hostile_answer(hour, ["get"])
    broken = {"on": False}
    calls: list[str] = []

    def answer(path: str, query: Mapping[str, str]) -> tuple[int, bytes]:
        calls.append(path)
        status, body = good(path, query)
        if broken["on"] and path.endswith("/usage/api"):
            body = body.replace(b'"get"', b'"g\xff\xfe\xc0t"')  # not UTF-8: not JSON
        return status, body

    source = {**hostile_sources(BASE)[2], "storage": False, "retries": 1}
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, transport=mock(answer))
    try:
        assert await daemon.poll_all()
        before = usage_series(daemon)
        broken["on"] = True
        calls.clear()
        assert not await daemon.poll_all()
        assert daemon.state.targets["tx"].last_error == "usage/api: answer is not valid JSON"
        assert len(calls) == 2, "retried like a 5xx"
        assert usage_series(daemon) == before
        assert self_metric(daemon, "usage_exporter_up", "tx") == 0
        broken["on"] = False
        assert await daemon.poll_all()
        assert usage_series(daemon) == before
    finally:
        await daemon.aclose()


def usage_series(daemon: Daemon) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    assert daemon.state.exposition is not None
    return {
        (name, frozenset(labels.items())): value
        for name, labels, value in samples_of(daemon.state.exposition.text.decode())
        if not name.startswith("usage_exporter_")
    }


def self_metric(daemon: Daemon, name: str, target: str, **labels: str) -> float:
    assert daemon.state.exposition is not None
    return sum(
        value
        for n, lb, value in samples_of(daemon.state.exposition.text.decode())
        if n == name and lb.get("target") == target and labels.items() <= lb.items()
    )


# -- cardinality --------------------------------------------------------------------------------


def family_series(daemon: Daemon, family: str, target: str) -> dict[tuple[str, ...], float]:
    assert daemon.state.exposition is not None
    out: dict[tuple[str, ...], float] = {}
    for name, labels, value in samples_of(daemon.state.exposition.text.decode()):
        if name == family and labels["target"] == target:
            key = tuple(v for k, v in sorted(labels.items()) if k != "target")
            assert key not in out, f"duplicate series {key[:3]}"
            out[key] = value
    return out


async def test_a_flood_of_label_values_is_held_by_the_series_limit(tmp_path: Path) -> None:
    hour = this_hour_minus_one()
    limit = 1000
    values = [f"cat-{i:06d}" for i in range(FLOOD)]
    categories = [
        {"category": v, "ops": i % 7 + 1, "bytes_sent": i % 11 + 1} for i, v in enumerate(values)
    ]
    body = json.dumps({"data": [{"timestamp": iso(hour), "categories": categories}]}).encode()
    assert len(body) < 32 * 1024 * 1024, "under the default body cap"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    source = {
        **hostile_sources(BASE)[2],
        "storage": False,
        "max_series_per_family": limit,
    }
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, transport=httpx.MockTransport(handler))
    inputs = {
        "telnyx_storage_operations_total": sum(i % 7 + 1 for i in range(FLOOD)),
        "telnyx_storage_sent_bytes_total": sum(i % 11 + 1 for i in range(FLOOD)),
    }
    try:
        for poll in (1, 2):  # the second poll re-reads the same bucket: nothing counted twice
            started = time.monotonic()
            assert await daemon.poll_all(), daemon.state.targets["tx"].last_error
            assert time.monotonic() - started < 60, "a flood must not stall the poll"
            for family, total in inputs.items():
                series = family_series(daemon, family, "tx")
                assert len(series) == limit + 1, (family, len(series))
                assert series[(OVERFLOW, OVERFLOW)] > 0, "both labels fold into __overflow__"
                assert sum(series.values()) == total, family
            assert self_metric(daemon, "usage_exporter_series_overflow_total", "tx") == (
                poll * len(inputs) * (FLOOD - limit)
            ), "every folded observation, every poll"
            assert self_metric(daemon, "usage_exporter_series", "tx") == len(inputs) * (limit + 1)
        out = daemon.state.exposition
        assert out is not None
        om = samples_of(out.openmetrics.decode(), openmetrics=True)
        ops = [v for n, lb, v in om if n == "telnyx_storage_operations_total"]
        assert len(ops) == limit + 1 and sum(ops) == inputs["telnyx_storage_operations_total"]
        assert_promtool_accepts(out.text)
    finally:
        await daemon.aclose()


def anylayer_flood(endpoints: int) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        key = request.url.params.get("keyId", "")
        by_endpoint = [{"endpoint": f"/{key}/e{i}", "requests": i + 1} for i in range(endpoints)]
        return httpx.Response(200, json={"success": True, "breakdown": {"byEndpoint": by_endpoint}})

    return httpx.MockTransport(handler)


async def test_a_flood_of_gauge_label_values_is_held_by_the_series_limit(tmp_path: Path) -> None:
    limit, endpoints = 500, 20_000
    source = {**hostile_sources(BASE)[3], "max_series_per_family": limit}
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, transport=anylayer_flood(endpoints))
    try:
        assert await daemon.poll_all()
        series = family_series(daemon, "anylayer_endpoint_requests", "al")
        assert len(series) == limit + 1
        assert series[(OVERFLOW,) * 3] == sum(range(limit + 1, endpoints + 1))
        assert sum(series.values()) == endpoints * (endpoints + 1) // 2
        overflowed = self_metric(daemon, "usage_exporter_series_overflow_total", "al")
        assert overflowed == endpoints - limit
    finally:
        await daemon.aclose()


async def test_the_series_limit_is_the_targets_own(tmp_path: Path) -> None:
    hour = this_hour_minus_one()
    values = [f"c{i}" for i in range(300)]
    telnyx = hostile_sources(BASE)[2]
    sources = [
        {**telnyx, "name": "small", "storage": False, "max_series_per_family": 100},
        {**telnyx, "name": "large", "storage": False},  # default 10000
    ]
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": sources})
    daemon = Daemon(config, transport=mock(hostile_answer(hour, values)))
    try:
        assert await daemon.poll_all()
        assert len(family_series(daemon, "telnyx_storage_operations_total", "large")) == 300
        small = family_series(daemon, "telnyx_storage_operations_total", "small")
        assert len(small) == 100 + 1, len(small)
    finally:
        await daemon.aclose()


async def test_the_gauge_series_limit_holds_across_streams(tmp_path: Path) -> None:
    limit = 100
    source = {
        **hostile_sources(BASE)[3],
        "key_ids": ["k1", "k2", "k3"],
        "max_series_per_family": limit,
    }
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, transport=anylayer_flood(300))
    try:
        assert await daemon.poll_all()
        series = family_series(daemon, "anylayer_endpoint_requests", "al")
        assert sum(series.values()) == 3 * 300 * 301 // 2, "sums stay exact either way"
        assert len(series) <= limit + 1, len(series)
    finally:
        await daemon.aclose()


# -- the body cap -------------------------------------------------------------------------------

CAP = 100_000


class Oversized(httpx.AsyncByteStream):
    """A chunked body with no Content-Length: a valid prefix, then far more than the cap."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.prefix
        for _ in range(100):
            yield b',{"category": "pad", "ops": 1}' * 1000
        yield b"]}]}"


def oversize(mode: str, hour: int) -> httpx.Response:
    prefix = (
        b'{"data": [{"timestamp": "' + iso(hour).encode() + b'", "categories": '
        b'[{"category": "get", "ops": 9}'
    )
    if mode == "declared":
        body = prefix + b',{"category": "pad", "ops": 1}' * 10_000 + b"]}]}"
        return httpx.Response(200, content=body)  # Content-Length says it all
    if mode == "chunked":
        return httpx.Response(200, stream=Oversized(prefix))
    # A gzip bomb: a small transfer that decodes to 200 times the cap.
    inflated = prefix + b" " * (200 * CAP) + b"]}]}"
    headers = {"content-encoding": "gzip"}
    return httpx.Response(200, content=gzip.compress(inflated), headers=headers)


@pytest.mark.parametrize("mode", ["declared", "chunked", "gzip-bomb"])
async def test_a_body_over_the_cap_is_refused_whole(tmp_path: Path, mode: str) -> None:
    hour = this_hour_minus_one()
    good = hostile_answer(hour, ["get"])
    state = {"oversize": False}
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if state["oversize"]:
            return oversize(mode, hour)
        status, body = good(request.url.path, dict(request.url.params))
        return httpx.Response(status, content=body)

    source = {
        **hostile_sources(BASE)[2],
        "storage": False,
        "retries": 1,
        "max_body_bytes": CAP,
    }
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, transport=httpx.MockTransport(handler))
    try:
        assert await daemon.poll_all()
        before = usage_series(daemon)
        assert before, "the first poll counted"

        state["oversize"] = True
        calls.clear()
        assert not await daemon.poll_all()
        error = daemon.state.targets["tx"].last_error
        assert error.startswith("usage/api: response") and f"the {CAP}-byte cap" in error, error
        assert len(calls) == 2, "refused like a network error: retried, then the read fails"
        assert usage_series(daemon) == before, "nothing of the oversized answer is counted"
        assert self_metric(daemon, "usage_exporter_up", "tx") == 0
        assert self_metric(daemon, "usage_exporter_polls_total", "tx", result="failure") == 1
        code200 = self_metric(daemon, "usage_exporter_upstream_requests_total", "tx", code="200")
        assert code200 == 3, "each refused call is still recorded with its status"

        state["oversize"] = False
        assert await daemon.poll_all()
        assert usage_series(daemon) == before
        assert self_metric(daemon, "usage_exporter_up", "tx") == 1
    finally:
        await daemon.aclose()


# -- a real process against a hostile server ----------------------------------------------------


@contextmanager
def hostile_server(
    answer: Callable[[str, Mapping[str, str]], tuple[int, bytes]],
) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, body = answer(parts.path, dict(parse_qsl(parts.query)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_a_real_exporter_against_a_hostile_upstream(tmp_path: Path, fmt: str) -> None:
    hour = this_hour_minus_one()
    with hostile_server(hostile_answer(hour, VALUES)) as upstream:
        sources = hostile_sources(upstream)
        broken = {
            **sources[3],
            "name": "al-broken",
            "path_prefix": "/api/v1",
        }
        config = tmp_path / "hostile.yaml"
        config.write_text(
            json.dumps({"state_dir": str(tmp_path / "state"), "sources": [*sources, broken]})
        )  # JSON is YAML
        exp = exporter(tmp_path, config, "--log.level", "debug", "--log.format", fmt)
        try:
            for target in ("oa", "ar", "tx", "al"):
                wait_for(
                    lambda t=target: success_polls(exp.url, t) >= 1,
                    f"a successful poll of {target}",
                    timeout=60,
                )
            wait_for(lambda: http(exp.url + "/readyz")[0] == 200, "every target polled")
            text = scrape(exp.url)
            openmetrics = scrape(exp.url, openmetrics=True)
            status, page, _ = http(exp.url + "/")
        finally:
            exp.stop()
    assert exp.popen.returncode == 0, exp.output()[-2000:]

    assert_hostile_values_round_trip(samples_of(text))
    assert_hostile_values_round_trip(samples_of(openmetrics, openmetrics=True))
    assert_bounded(text.encode())
    assert_promtool_accepts(text.encode())

    # The hostile error message: escaped on `/`, one log record per line, no raw control bytes.
    assert status == 200
    assert b"<script>" not in page and b"&lt;script&gt;alert(1)&lt;/script&gt;" in page
    log = exp.output()
    assert "success is not true: EVIL" in log
    assert "\x1b" not in log
    lines = [line for line in log.splitlines() if line.strip()]
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert any("EVIL" in str(r.get("error", "")) for r in records)
    else:
        assert all(line.startswith("ts=") for line in lines), [
            line[:80] for line in lines if not line.startswith("ts=")
        ]
    assert not any(line.startswith("level=error msg=forged") for line in lines)


# -- a slow upstream after a long gap -----------------------------------------------------------


async def test_a_long_gap_is_caught_up_even_when_one_poll_cannot_read_it_all(
    tmp_path: Path,
) -> None:
    clock = {"now": int(time.time()) // 3600 * 3600 - 30 * 86400}

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)  # 20 ms per window: ten days of 1 h windows take 2.4 s
        return httpx.Response(200, json=[])

    source = {**hostile_sources(BASE)[1], "interval": 2, "timeout": 1, "backfill": "3h"}
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, clock=lambda: float(clock["now"]), transport=httpx.MockTransport(slow))
    try:
        assert await daemon.poll_all()
        before = daemon.ledger.watermark("ar")
        assert before is not None
        clock["now"] += 10 * 86400  # the exporter was down for ten days
        for _ in range(3):
            await daemon.poll_all()
        after = daemon.ledger.watermark("ar")
        assert after is not None and after > before, daemon.state.targets["ar"].last_error
    finally:
        await daemon.aclose()


async def test_a_first_backfill_too_long_for_one_poll_is_read_over_several(
    tmp_path: Path,
) -> None:
    """A read that runs out of time halves its window for the next poll: a 30-day backfill
    that one poll cannot read still gets read, and the cursor reaches the present."""
    clock = {"now": int(time.time()) // 3600 * 3600}
    calls = {"n": 0}

    async def slow(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        await asyncio.sleep(0.02)  # 720 one-hour windows, at most 4 at a time: 3.6 s
        return httpx.Response(200, json=[])

    source = {**hostile_sources(BASE)[1], "interval": 2, "timeout": 1, "backfill": "30d"}
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "sources": [source]})
    daemon = Daemon(config, clock=lambda: float(clock["now"]), transport=httpx.MockTransport(slow))
    try:
        assert not await daemon.poll_all()  # the whole backfill does not fit in a second
        assert "the next poll reads half" in daemon.state.targets["ar"].last_error
        marks = []
        for _ in range(30):
            clock["now"] += 2
            await daemon.poll_all()
            marks.append(daemon.ledger.watermark("ar"))
            if daemon.state.targets["ar"].up and not daemon.windows.catching_up("ar"):
                break
        assert daemon.state.targets["ar"].up, daemon.state.targets["ar"].last_error
        assert not daemon.windows.catching_up(), "caught up: back to whole windows"
        watermark = daemon.ledger.watermark("ar")
        assert watermark is not None and watermark >= clock["now"] - 4 * 3600  # lookback 3 h
        known = [m for m in marks if m is not None]
        assert known == sorted(known), "the cursor only moves forward"
        assert calls["n"] < 5 * 720, "bounded re-reading"
    finally:
        await daemon.aclose()
