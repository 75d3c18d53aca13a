"""A state file written before labels were added to OpenAI families (`api_source` on tokens,
requests and tool calls; `api_source` and `user_id` on costs) is read by the current code with
every counter, creation time and period gauge unchanged, the new labels empty; later polls
carry on counting the same series."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from exporter.daemon.windows import next_window
from exporter.ledger import Ledger
from exporter.ledger import ledger as ledger_module
from exporter.model import Flow, Stream, StreamRead
from exporter.vendors.openai.metrics import FAMILIES

H = 3600
NOW = 1_763_900_000 - 1_763_900_000 % H + 1800

# The label tuples as the code declared them before the change (0.1.0). A compatibility freeze,
# written out on purpose: they must not follow the tuples of exporter/vendors/openai/source.py,
# which they repeat in part (`duplicates` lists the pair; keep it).
OLD_LABELS = {
    "token": ("endpoint", "project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
    "tool": (
        "tool",
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "vector_store_id",
        "context_level",
    ),
    "cost": ("project_id", "line_item", "api_key_id"),
}
NEW_FAMILIES = {f.name: f for f in FAMILIES}


def old_labels(name: str) -> tuple[str, ...]:
    labels = NEW_FAMILIES[name].labels
    for old in OLD_LABELS.values():
        if labels[: len(old)] == old and len(labels) > len(old):
            return old
    return labels


# The families of 0.1.0: same names, the old label tuples, none of the new families.
OLD_FAMILIES = [
    replace(f, labels=old_labels(f.name))
    for f in FAMILIES
    if f.name
    not in (
        "openai_input_cache_write_12h_tokens_total",
        "openai_input_cache_write_30m_tokens_total",
        "openai_cost_quantity_total",
    )
]
USAGE = Stream("completions", H, lookback=3 * H, backfill=24 * H)
COSTS = Stream("costs", 86400, lookback=2 * 86400, backfill=7 * 86400, month_origin=True)
TOOLS = Stream("web_search_calls", H, lookback=3 * H, backfill=24 * H)

OLD_SERIES = {
    ("openai_input_tokens_total", ("completions", "proj_a", "", "", "gpt-4o", "", "")): 1200.0,
    ("openai_input_tokens_total", ("completions", "proj_b", "", "", "o3-mini", "", "")): 34.0,
    ("openai_model_requests_total", ("completions", "proj_a", "", "", "gpt-4o", "", "")): 9.0,
    ("openai_tool_calls_total", ("web_search", "proj_a", "", "", "", "", "high")): 5.0,
    ("openai_cost_usd_total", ("proj_a", "gpt-4o, input", "")): 1.25,
    ("openai_cost_usd_total", ("proj_b", "gpt-4o, output", "")): 0.5,
}
STREAM_OF = {
    "openai_input_tokens_total": USAGE,
    "openai_model_requests_total": USAGE,
    "openai_tool_calls_total": TOOLS,
    "openai_cost_usd_total": COSTS,
}


def reads(
    ledger: Ledger, series: dict[tuple[str, tuple[str, ...]], float], now: int
) -> list[tuple[Stream, StreamRead]]:
    out = []
    for stream in (USAGE, COSTS, TOOLS):
        window = next_window(stream, now, ledger.cursor("acme", stream.name))
        bucket = now - now % stream.width - stream.width  # a closed bucket in the lookback
        flows = [
            Flow(name, labels, bucket, bucket + stream.width, value)
            for (name, labels), value in series.items()
            if STREAM_OF[name] is stream
        ]
        out.append((stream, StreamRead(stream.name, window.start, window.end, flows)))
    return out


def samples(ledger: Ledger) -> dict[tuple[str, tuple[str, ...]], tuple[float, float | None]]:
    return {
        (fs.family.name, s.labels): (s.value, s.created)
        for fs in ledger.samples("acme")
        for s in fs.samples
    }


def test_a_state_file_from_before_the_new_labels_serves_every_counter_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    old = Ledger(path, clock=lambda: NOW)
    old.declare("acme", OLD_FAMILIES)
    old.commit("acme", NOW, reads(old, OLD_SERIES, NOW))
    before = samples(old)
    old.close()
    assert {k for k, v in before.items() if k[0] in STREAM_OF} == set(OLD_SERIES)
    stored = sqlite3.connect(path).execute("SELECT labels FROM series").fetchall()
    assert '["proj_a", "gpt-4o, input", ""]' in {row[0] for row in stored}  # the old spelling

    new = Ledger(path, clock=lambda: NOW)
    new.declare("acme", FAMILIES)
    after = samples(new)
    padded = {
        (name, labels + ("",) * (len(NEW_FAMILIES[name].labels) - len(labels))): value
        for (name, labels), value in before.items()
    }
    assert after == padded  # values and creation times, counters and period gauges
    assert ("openai_cost_month_to_date_usd", ("proj_a", "gpt-4o, input", "", "", "")) in after
    assert (
        after[("openai_cost_month_to_date_usd", ("proj_a", "gpt-4o, input", "", "", ""))][0] == 1.25
    )

    # The next poll reports the same buckets, higher, under the new label tuples: the same
    # series count on (no second series, nothing counted twice).
    risen = {
        (name, labels + ("",) * (len(NEW_FAMILIES[name].labels) - len(labels))): value + 1
        for (name, labels), value in OLD_SERIES.items()
    }
    new.commit("acme", NOW + 60, reads(new, risen, NOW + 60))
    counters = {k: v[0] for k, v in samples(new).items() if k[0] in STREAM_OF}
    assert counters == risen
    new.close()
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM series").fetchone()[0]
    assert rows == len(OLD_SERIES)

    again = Ledger(path, clock=lambda: NOW + 60)
    again.declare("acme", FAMILIES)
    assert {k: v[0] for k, v in samples(again).items() if k[0] in STREAM_OF} == risen
    again.close()


def test_without_the_padding_the_old_series_come_out_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: with the padding switched off, the stored series keep their
    short tuples (a sample with too few labels), and the next poll makes second series."""
    path = tmp_path / "ledger.sqlite"
    old = Ledger(path, clock=lambda: NOW)
    old.declare("acme", OLD_FAMILIES)
    old.commit("acme", NOW, reads(old, OLD_SERIES, NOW))
    old.close()
    monkeypatch.setattr(ledger_module, "pad_stored_labels", lambda state: None)
    new = Ledger(path, clock=lambda: NOW)
    new.declare("acme", FAMILIES)
    short = [k for k in samples(new) if len(k[1]) != len(NEW_FAMILIES[k[0]].labels)]
    assert len(short) >= len(OLD_SERIES)
    risen = {
        (name, labels + ("",) * (len(NEW_FAMILIES[name].labels) - len(labels))): value + 1
        for (name, labels), value in OLD_SERIES.items()
    }
    new.commit("acme", NOW + 60, reads(new, risen, NOW + 60))
    new.close()
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM series").fetchone()[0]
    assert rows == 2 * len(OLD_SERIES)
