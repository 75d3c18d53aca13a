"""Rendering: both formats parse back to the input, hostile labels are escaped and bounded,
and promtool accepts the text without a warning."""

from __future__ import annotations

import gzip
import subprocess

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.exposition.render import render
from exporter.exposition.served import negotiate, plain_slices
from exporter.model import MAX_LABEL_LENGTH, Family, FamilySamples, Kind, Sample
from tests.harness import require_tool

TOKENS = Family("x_tokens_total", Kind.COUNTER, "Tokens.\nSecond line.", ("model", "project"))
BYTES = Family("x_stored_bytes", Kind.GAUGE, "Bytes.", ("project",), unit="bytes")
HOSTILE = ['quote " here', "back\\slash", "new\nline", "lone \ud800 surrogate", "é ✓", "x" * 10_000]


def families() -> list[FamilySamples]:
    return [
        FamilySamples(
            TOKENS,
            "a",
            [Sample((h, "p"), float(i + 1), 1_700_000_000.0) for i, h in enumerate(HOSTILE)],
        ),
        FamilySamples(TOKENS, "b", [Sample(("m", "p"), 0.5, 1_700_000_000.0)]),
        FamilySamples(BYTES, "a", [Sample(("p",), 1e9)]),
        FamilySamples(BYTES, "b", []),
    ]


def registry() -> CollectorRegistry:
    r = CollectorRegistry()
    Counter("self_calls", "Calls.", registry=r).inc(3)
    return r


def expected_label(value: str) -> str:
    return value[:MAX_LABEL_LENGTH].encode("utf-8", "replace").decode("utf-8")


def test_text_round_trips_with_one_header_per_family() -> None:
    out = render(families(), registry())
    text = out.text.decode()
    assert text.count("# TYPE x_tokens_total counter") == 1
    assert "_created" not in text
    parsed = {f.name: f for f in parse_text(text)}
    samples = {(s.labels["target"], s.labels["model"]): s.value for s in parsed["x_tokens"].samples}
    for i, hostile in enumerate(HOSTILE):
        assert samples[("a", expected_label(hostile))] == i + 1
    assert samples[("b", "m")] == 0.5
    assert parsed["x_stored_bytes"].samples[0].value == 1e9
    assert parsed["self_calls"].samples[0].value == 3
    assert out.series == len(HOSTILE) + 2
    assert gzip.decompress(out.text_gzip) == out.text


def test_openmetrics_round_trips_with_created_and_unit() -> None:
    out = render(families(), registry())
    text = out.openmetrics.decode()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    assert "# UNIT x_stored_bytes bytes" in text
    parsed = {f.name: f for f in parse_om(text)}
    created = [s for s in parsed["x_tokens"].samples if s.name == "x_tokens_created"]
    assert len(created) == len(HOSTILE) + 1 and created[0].value == 1_700_000_000.0
    totals = [s for s in parsed["x_tokens"].samples if s.name == "x_tokens_total"]
    assert sorted(s.value for s in totals) == sorted([*range(1, len(HOSTILE) + 1), 0.5])
    assert gzip.decompress(out.openmetrics_gzip) == out.openmetrics


def test_promtool_accepts_the_text_without_warnings() -> None:
    promtool = require_tool("promtool")
    out = render(families(), registry())
    result = subprocess.run(
        [promtool, "check", "metrics"], input=out.text, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b"", result


def test_negotiation() -> None:
    prometheus = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    assert negotiate(prometheus, "gzip") == (True, True)
    assert negotiate("text/plain", None) == (False, False)
    assert negotiate(None, "deflate, gzip;q=0") == (False, False)
    assert negotiate("application/openmetrics-text;q=0", "br, gzip") == (False, True)


def test_plain_slices_inflate_a_member_in_bounded_slices_and_check_it() -> None:
    """A plain scrape's bytes: exact, no slice above its size, in time linear in the bytes (the
    compressed input is fed in pieces, so nothing is copied per slice but a piece's rest), and a
    damaged or cut member is an error, not short bytes."""
    data = b"".join(b'x_total{user="u%d"} %d.0\n' % (i, i) for i in range(400_000))
    member = gzip.compress(data, 1)
    assert len(member) > 4 * 64 * 1024  # several input pieces
    parts = list(plain_slices(member, 100_000))
    assert b"".join(parts) == data and max(map(len, parts)) <= 100_000
    damaged = bytearray(member)
    damaged[-8] ^= 1  # the CRC
    with pytest.raises(Exception, match="checksum"):  # isal's error (its stub: an instance)
        list(plain_slices(bytes(damaged)))
    with pytest.raises(ValueError, match="whole gzip member"):
        list(plain_slices(member[:-100]))
