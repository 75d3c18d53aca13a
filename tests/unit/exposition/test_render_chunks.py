"""The chunked renderer equals the straightforward one (testkit/reference_render.py, the renderer
as it was before chunks) byte for byte, plain and gzip-decompressed, in both formats, through a
sequence of renderings that change a few series, many, none, add and remove some, a target and a
family; with a real ledger folding polls as well. A renderer that reuses a stale chunk is caught."""

from __future__ import annotations

import gzip
import math
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from exporter.daemon.windows import next_window
from exporter.exposition import render as exposition
from exporter.exposition.render import Renderer
from exporter.exposition.served import Exposition
from exporter.ledger import Ledger
from exporter.model import Family, FamilySamples, Flow, Kind, Level, Sample, Stream, StreamRead
from testkit.reference_render import render as reference

TOKENS = Family("x_tokens_total", Kind.COUNTER, "Tokens.\nSecond \\ line.", ("model", "user"))
COST = Family("x_cost_dollars_total", Kind.COUNTER, "Cost.", ("project",), unit="dollars")
BYTES = Family("x_stored_bytes", Kind.GAUGE, "Bytes.", ("bucket",), unit="bytes")
HOSTILE = ['quote " here', "back\\slash", "new\nline", "lone \ud800 surrogate", "é ✓", "x" * 300]

Model = dict[tuple[Family, str], dict[tuple[str, ...], tuple[float, float | None]]]


def differences(got: Exposition, want: Exposition) -> list[str]:
    """The variants in which `got` differs from `want` (gzip compared decompressed)."""
    pairs = {
        "text": (got.text, want.text),
        "openmetrics": (got.openmetrics, want.openmetrics),
        "text_gzip": (gzip.decompress(got.text_gzip), want.text),
        "openmetrics_gzip": (gzip.decompress(got.openmetrics_gzip), want.openmetrics),
    }
    wrong = [name for name, (a, b) in pairs.items() if a != b]
    for name in ("text_gzip", "openmetrics_gzip"):  # one member: what httpx reads, too
        reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
        reader.decompress(getattr(got, name))
        if not reader.eof or reader.unused_data:
            wrong.append(f"{name} not one gzip member")
    return wrong + (["series"] if got.series != want.series else [])


def as_families(model: Model) -> list[FamilySamples]:
    return [
        FamilySamples(family, target, [Sample(k, v, c) for k, (v, c) in series.items()])
        for (family, target), series in model.items()
    ]


def initial(rng: random.Random) -> Model:
    model: Model = {}
    for target in ("a", "b\"'"):
        model[(TOKENS, target)] = {
            (rng.choice([*HOSTILE, "gpt", "o3"]), f"user-{i}"): (float(i), 1.7e9 + i % 3)
            for i in range(300)
        }
        model[(BYTES, target)] = {
            (f"b{i}",): (rng.choice([0.0, 1e9, 2.5e-7, 1e21, -3e7, math.inf, math.nan]), None)
            for i in range(40)
        }
    model[(COST, "a")] = {("p",): (12.25, 1.7e9)}
    # a counter whose creation time is unknown has no `_created` line
    model[(COST, "b\"'")] = {("p",): (3.0, None), ("q",): (4.5e6, 1.7e9)}
    return model


def changes(rng: random.Random) -> list[tuple[str, Callable[[Model], None]]]:
    def few(m: Model) -> None:
        series = m[(TOKENS, "a")]
        for key in rng.sample(sorted(series), 3):
            value, created = series[key]
            series[key] = (value + 1, created)

    def many(m: Model) -> None:
        for (family, _), series in m.items():
            for key, (value, created) in series.items():
                if rng.random() < 0.7:
                    series[key] = (value * 1.5 + 1 if family.kind is Kind.COUNTER else 0.0, created)

    def add(m: Model) -> None:
        series = m[(TOKENS, "b\"'")]
        items = list(series.items())
        at = len(items) // 3
        new = [((f"m{i}", f"new-{i}"), (float(i), 1.8e9)) for i in range(25)]
        m[(TOKENS, "b\"'")] = dict(items[:at] + new + items[at:])  # in the middle: chunks shift
        m[(BYTES, "a")][("appended",)] = (7.0, None)

    def remove(m: Model) -> None:
        series = m[(TOKENS, "a")]
        for key in rng.sample(sorted(series), 30):
            del series[key]
        m[(BYTES, "b\"'")].clear()

    def drop_target(m: Model) -> None:
        for key in [k for k in m if k[1] == "a"]:
            del m[key]

    def add_family(m: Model) -> None:
        m[(COST, "c")] = {("q",): (1.0, 1.9e9), ("r",): (2.0, 1.9e9)}
        m[(TOKENS, "a")] = {("gpt", "back"): (3.0, 1.7e9)}

    return [
        ("nothing", lambda m: None),
        ("few", few),
        ("many", many),
        ("nothing again", lambda m: None),
        ("add", add),
        ("remove", remove),
        ("drop a target", drop_target),
        ("add a family", add_family),
    ]


@pytest.mark.parametrize("chunk", [1, 7, 64, Renderer.CHUNK])
def test_chunked_rendering_equals_reference_through_changes(chunk: int) -> None:
    rng = random.Random(chunk)
    renderer = Renderer()
    renderer.CHUNK = chunk
    registry = CollectorRegistry()
    calls = Counter("self_calls", "Calls.", registry=registry)
    model = initial(rng)
    for step, change in changes(rng):
        change(model)
        calls.inc()
        families = as_families(model)
        got = renderer.render(families, registry)
        assert differences(got, reference(families, registry)) == [], step


def test_unchanged_chunks_are_not_rendered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    original = exposition._render_chunk

    def counting(*args: object) -> object:
        rendered.append(1)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(exposition, "_render_chunk", counting)
    renderer = Renderer()
    renderer.CHUNK = 10
    model = initial(random.Random(1))
    renderer.render(as_families(model), CollectorRegistry())
    first = len(rendered)
    rendered.clear()
    model[(TOKENS, "a")][next(iter(model[(TOKENS, "a")]))] = (1e6, 1.7e9)
    got = renderer.render(as_families(model), CollectorRegistry())
    assert first == 2 * 30 + 2 * 4 + 2 and rendered == [1]  # only the changed chunk
    assert differences(got, reference(as_families(model), CollectorRegistry())) == []


def test_a_stale_chunk_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: a renderer that reuses chunks whatever their values differs."""

    class Always(bytes):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = None  # type: ignore[assignment]

    renderer = Renderer()
    model = initial(random.Random(2))
    renderer.render(as_families(model), CollectorRegistry())
    for at, chunk in renderer._chunks.items():
        renderer._chunks[at] = chunk._replace(values=Always(chunk.values))
    for series in model.values():
        for key, (value, created) in series.items():
            series[key] = (value + 1, created)
    got = renderer.render(as_families(model), CollectorRegistry())
    assert differences(got, reference(as_families(model), CollectorRegistry())) == [
        "text",
        "openmetrics",
        "text_gzip",
        "openmetrics_gzip",
    ]


FAMILY = Family("l_tokens_total", Kind.COUNTER, "Tokens.", ("project", "user"))
GAUGE = Family("l_stored_bytes", Kind.GAUGE, "Stored.", ("bucket",), unit="bytes")
STREAM = Stream("usage", 3600, 3 * 3600, 86400)
LEVELS = Stream("stored", 0, 0, 0)
NOW = 1_763_900_000


def test_ledger_polls_render_as_the_reference(tmp_path: Path) -> None:
    """A real ledger folds polls that change a few series, many, add some, and drop gauges; the
    daemon's path (ledger.samples -> Renderer) equals the reference after each."""
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.declare("t", [FAMILY, GAUGE])
    renderer = Renderer()
    renderer.CHUNK = 50
    start = NOW - NOW % 3600
    values = {(f"p{i % 5}", f"u{i}"): float(i + 1) for i in range(400)}
    levels = {(f"b{i}",): float(i) for i in range(30)}  # then all dropped
    polls: list[Callable[[], None]] = [
        lambda: None,
        lambda: values.update({("p0", "u3"): 1e4, ("p1", "u77"): 2e4}),
        lambda: values.update({k: v + 5 for k, v in values.items()}),
        lambda: values.update({("p9", f"new{i}"): 1.0 for i in range(60)}),
        lambda: levels.clear(),
    ]
    for at, poll in enumerate(polls):
        poll()
        now = NOW + 60 * at
        window = next_window(STREAM, now, ledger.cursor("t", STREAM.name))
        flows = [Flow(FAMILY.name, k, start, start + 3600, v) for k, v in values.items()]
        gauge = [Level(GAUGE.name, k, v) for k, v in levels.items()]
        ledger.commit(
            "t",
            now,
            [
                (STREAM, StreamRead("usage", window.start, window.end, flows)),
                (LEVELS, StreamRead("stored", now, now, levels=gauge)),
            ],
        )
        families = ledger.samples("t")
        # The ledger's kept samples are the truth, not left over from an earlier poll.
        counted = {x.labels: x.value for f in families if f.family is FAMILY for x in f.samples}
        assert counted == values, at
        got = renderer.render(families, CollectorRegistry())
        assert differences(got, reference(families, CollectorRegistry())) == [], at
    ledger.close()
