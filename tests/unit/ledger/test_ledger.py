"""The bucket ledger against independently computed sums: revisions, settling, restarts,
periods, cardinality, atomicity and refusal of foreign state."""

from __future__ import annotations

import calendar
import contextlib
import copy
import itertools
import json
import random
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.daemon.windows import next_window
from exporter.ledger import OVERFLOW, Ledger, LedgerError
from exporter.ledger.persist import labels_json as _labels_json
from exporter.ledger.series import NO_PERIODS, Series, new_nums
from exporter.model import Family, Flow, Kind, Level, Period, Stream, StreamRead, Window

H = 3600
TOKENS = Family("tokens_total", Kind.COUNTER, "tokens", ("model",))
COST = Family("cost_usd_total", Kind.COUNTER, "cost", ("project",))
COST_TODAY = Family(
    "cost_today_usd", Kind.GAUGE, "today", ("project",), sums="cost_usd_total", period=Period.DAY
)
COST_MONTH = Family(
    "cost_month_usd", Kind.GAUGE, "month", ("project",), sums="cost_usd_total", period=Period.MONTH
)
BYTES = Family("stored_bytes", Kind.GAUGE, "bytes", ("project",))
FAMILIES = (TOKENS, COST, COST_TODAY, COST_MONTH, BYTES)
STREAM = Stream("usage", width=H, lookback=3 * H, backfill=24 * H)
T0 = 1_760_000_400 - 1_760_000_400 % H  # an hour boundary


class Upstream:
    """What an upstream reports: bucket start -> {labels: value}."""

    def __init__(self) -> None:
        self.buckets: dict[int, dict[tuple[str, ...], float]] = {}

    def set(self, start: int, labels: tuple[str, ...], value: float) -> None:
        self.buckets.setdefault(start, {})[labels] = value

    def read(
        self, ledger: Ledger, now: int, stream: Stream = STREAM, family: str = "tokens_total"
    ) -> StreamRead:
        window = window_of(ledger, now, stream)
        flows = [
            Flow(family, labels, b, b + stream.width, v)
            for b, values in self.buckets.items()
            if window.start <= b < window.end
            for labels, v in values.items()
            if v
        ]
        return StreamRead(stream.name, window.start, window.end, flows)

    def total(self, labels: tuple[str, ...], since: int) -> float:
        return sum(v.get(labels, 0) for b, v in self.buckets.items() if b >= since)


def window_of(ledger: Ledger, now: int, stream: Stream = STREAM) -> Window:
    """The window a poll of the stream reads next, from the cursor the ledger stored."""
    return next_window(stream, now, ledger.cursor("t", stream.name))


def open_ledger(path: Path, **kwargs: object) -> Ledger:
    ledger = Ledger(path / "state.sqlite", **kwargs)  # type: ignore[arg-type]
    ledger.declare("t", FAMILIES)
    return ledger


def counter(ledger: Ledger, family: str = "tokens_total") -> dict[tuple[str, ...], float]:
    for item in ledger.samples("t"):
        if item.family.name == family:
            return {s.labels: s.value for s in item.samples}
    raise AssertionError(family)


def poll(
    ledger: Ledger,
    upstream: Upstream,
    now: int,
    stream: Stream = STREAM,
    family: str = "tokens_total",
) -> None:
    ledger.commit("t", now, [(stream, upstream.read(ledger, now, stream, family))])


def test_late_data_adds_only_the_difference(tmp_path: Path) -> None:
    ledger, up = open_ledger(tmp_path), Upstream()
    now = T0 + 30 * 60
    up.set(T0 - H, ("m",), 10)
    up.set(T0, ("m",), 5)
    poll(ledger, up, now)
    assert counter(ledger) == {("m",): 15}
    up.set(T0 - H, ("m",), 14)  # the closed bucket rose
    up.set(T0, ("m",), 9)
    stats = ledger.commit("t", now + 60, [(STREAM, up.read(ledger, now + 60))])
    assert counter(ledger) == {("m",): 23}
    assert (stats.revisions_up, stats.revisions_down) == (2, 0)


def test_a_bucket_missing_from_a_re_read_is_zero_and_the_counter_holds_its_peak(
    tmp_path: Path,
) -> None:
    ledger, up = open_ledger(tmp_path), Upstream()
    now = T0 + 10
    up.set(T0 - H, ("m",), 10)
    up.set(T0, ("m",), 4)
    poll(ledger, up, now)
    del up.buckets[T0 - H]  # the upstream no longer reports it: a downward revision
    stats = ledger.commit("t", now + 5, [(STREAM, up.read(ledger, now + 5))])
    assert stats.revisions_down == 1
    assert counter(ledger) == {("m",): 14}, "a counter never decreases"
    up.set(T0, ("m",), 12)  # true sum 12 < peak 14: still the peak
    poll(ledger, up, now + 6)
    assert counter(ledger) == {("m",): 14}
    up.set(T0, ("m",), 20)  # true sum passes the peak: it rises again
    poll(ledger, up, now + 7)
    assert counter(ledger) == {("m",): 20}


def test_a_rise_writes_no_series_row_and_a_held_peak_survives_a_restart(
    tmp_path: Path,
) -> None:
    """The stored `emitted` is a lower bound (schema 4): a poll that only raises a bucket
    writes the bucket, not the series; a counter holding a peak above its true sum writes it."""

    def stored_emitted() -> float:
        db = sqlite3.connect(tmp_path / "state.sqlite")
        try:
            return float(db.execute("SELECT emitted FROM series").fetchone()[0])
        finally:
            db.close()

    ledger, up = open_ledger(tmp_path), Upstream()
    now = T0 + 10
    up.set(T0, ("m",), 4)
    poll(ledger, up, now)
    up.set(T0, ("m",), 14)
    poll(ledger, up, now + 5)
    assert stored_emitted() == 4, "a rise rewrote the series row"
    ledger.close()
    ledger = open_ledger(tmp_path)
    assert counter(ledger) == {("m",): 14}, "loading takes the true sum above the stored bound"
    up.set(T0, ("m",), 9)  # a downward revision: the counter holds 14
    poll(ledger, up, now + 6)
    assert stored_emitted() == 14
    ledger.close()
    ledger = open_ledger(tmp_path)
    assert counter(ledger) == {("m",): 14}, "the held peak was lost in a restart"
    ledger.close()


def test_settled_buckets_are_folded_and_state_stays_bounded(tmp_path: Path) -> None:
    ledger, up = open_ledger(tmp_path), Upstream()
    origin = window_of(ledger, T0).start
    assert origin == T0 - 24 * H
    for hour in range(100):
        now = T0 + hour * H + 60
        up.set(now - now % H, ("m",), hour + 1)
        poll(ledger, up, now)
    assert counter(ledger) == {("m",): up.total(("m",), origin)}
    rows = (
        sqlite3.connect(tmp_path / "state.sqlite")
        .execute("SELECT count(*) FROM buckets")
        .fetchone()[0]
    )
    assert rows <= 4, "only the lookback's buckets stay open"
    assert window_of(ledger, T0 + 99 * H + 60).start == T0 + 96 * H
    assert ledger.watermark("t") == T0 + 96 * H


def test_keys_that_repeat_across_series_are_kept_once_also_after_a_restart(
    tmp_path: Path,
) -> None:
    """A family name, an origin, a bucket's key and a period's key repeat across series: each
    is one object however many series hold it (SQLite and the fold would otherwise make one per
    series: about 400 bytes a series after a restart), and the counters are unchanged. (A
    bucket's end is no object: it sits in the series' array of numbers.)"""
    ledger, up = open_ledger(tmp_path), Upstream()
    origin = window_of(ledger, T0).start
    for hour in range(6):  # the first buckets settle into periods, the last ones stay open
        now = T0 + hour * H + 60
        for user in range(5):
            up.set(now - now % H, (f"p{user}",), hour + user + 1)
        poll(ledger, up, now, family="cost_usd_total")  # (a gauge sums it: it keeps periods)
    before = counter(ledger, "cost_usd_total")

    def shared(ledger: Ledger) -> None:
        series = list(ledger._targets["t"].series["cost_usd_total"].values())
        assert len(series) == 5
        for kind, keys in (
            ("buckets", [list(s.open) for s in series]),
            ("periods", [list(s.periods) for s in series]),
        ):
            assert keys[0], kind
            for other in keys[1:]:
                assert other == keys[0], kind
                assert all(a is b for a, b in zip(other, keys[0], strict=True)), kind
        assert all(s.family is series[0].family for s in series)
        assert all(s.origin is series[0].origin for s in series)

    shared(ledger)
    ledger.close()
    ledger = open_ledger(tmp_path)
    shared(ledger)
    want = {(f"p{u}",): up.total((f"p{u}",), origin) for u in range(5)}
    assert counter(ledger, "cost_usd_total") == before == want


def period_rows(tmp_path: Path) -> dict[str, int]:
    """Family name -> how many period rows its series have in the state file."""
    with contextlib.closing(sqlite3.connect(tmp_path / "state.sqlite")) as db:
        rows = db.execute(
            "SELECT s.family, count(*) FROM periods p JOIN series s ON s.id = p.series_id "
            "GROUP BY s.family"
        ).fetchall()
    return dict(rows)


def settle_hours(ledger: Ledger, ups: dict[str, Upstream], hours: int) -> None:
    """Hourly polls of each family's own stream (named after it), the older buckets settling."""
    for hour in range(hours):
        now = T0 + hour * H + 60
        for family, up in ups.items():
            up.set(now - now % H, ("a",), hour + 1.5)
            poll(ledger, up, now, Stream(family, H, 3 * H, 24 * H), family)


def test_only_families_a_gauge_sums_keep_period_sums(tmp_path: Path) -> None:
    """Day and month sums are kept for a family a gauge sums (or with history), in memory and
    in the file; another keeps none (a month on, 43 per series), and counts the same."""
    now = T0 + 29 * H + 60  # the last poll's time
    ledger, tokens, cost = open_ledger(tmp_path, clock=lambda: float(now)), Upstream(), Upstream()
    origin = window_of(ledger, T0).start
    settle_hours(ledger, {"tokens_total": tokens, "cost_usd_total": cost}, 30)
    state = ledger._targets["t"]
    # (the one shared empty dict: none of its own, and it refuses a write)
    assert all(s.periods is NO_PERIODS for s in state.series["tokens_total"].values())
    assert all(s.periods for s in state.series["cost_usd_total"].values())
    with pytest.raises(TypeError):
        NO_PERIODS[("day", 0)] = 1.0
    assert set(period_rows(tmp_path)) == {"cost_usd_total"}
    assert counter(ledger) == {("a",): tokens.total(("a",), origin)}
    assert counter(ledger, "cost_usd_total") == {("a",): cost.total(("a",), origin)}
    today = now - now % 86400
    assert counter(ledger, "cost_today_usd") == {("a",): cost.total(("a",), today)}


def test_period_sums_an_earlier_version_kept_go_from_file_and_memory(tmp_path: Path) -> None:
    """Earlier versions kept period sums for every family: declared now, a family no gauge
    sums loses them, in the file too, and its counter is unchanged across the restart."""
    tokens_today = Family(
        "tokens_today", Kind.GAUGE, "today", ("model",), sums="tokens_total", period=Period.DAY
    )
    ledger, up = open_ledger(tmp_path), Upstream()
    ledger.declare("t", (*FAMILIES, tokens_today))  # (as every family was before)
    origin = window_of(ledger, T0).start
    settle_hours(ledger, {"tokens_total": up}, 30)
    assert period_rows(tmp_path)["tokens_total"] > 0
    before = counter(ledger)
    ledger.close()
    ledger = open_ledger(tmp_path)
    assert "tokens_total" not in period_rows(tmp_path)
    assert all(
        s.periods is NO_PERIODS for s in ledger._targets["t"].series["tokens_total"].values()
    )
    assert counter(ledger) == before == {("a",): up.total(("a",), origin)}


def test_flows_before_the_coverage_are_ignored(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    read = StreamRead(
        "usage",
        T0,
        T0 + H,
        [
            Flow("tokens_total", ("m",), T0 - H, T0, 7),
            Flow("tokens_total", ("m",), T0, T0 + H, 3),
            Flow("tokens_total", ("m",), T0, T0 + H, 2),
        ],
    )
    stats = ledger.commit("t", T0 + 10, [(STREAM, read)])
    assert stats.ignored_flows == 1
    assert counter(ledger) == {("m",): 5}, "rows with equal labels in one bucket add up"


def test_restart_resumes_and_the_gap_is_re_read(tmp_path: Path) -> None:
    ledger, up = open_ledger(tmp_path), Upstream()
    origin = window_of(ledger, T0).start
    for hour in range(5):
        up.set(T0 + hour * H, ("a",), 10 + hour)
        poll(ledger, up, T0 + hour * H + 100)
    before = ledger.samples("t")
    ledger.close()
    ledger = open_ledger(tmp_path)
    assert ledger.samples("t") == before
    # Down for ten hours; the upstream kept counting and revised an old open bucket.
    for hour in range(5, 15):
        up.set(T0 + hour * H, ("a",), 100 + hour)
    up.set(T0 + 3 * H, ("a",), 50)
    assert window_of(ledger, T0 + 15 * H).start <= T0 + 2 * H
    poll(ledger, up, T0 + 15 * H + 100)
    assert counter(ledger) == {("a",): up.total(("a",), origin)}


def test_a_failed_commit_changes_neither_disk_nor_memory(tmp_path: Path) -> None:
    ledger, up = open_ledger(tmp_path), Upstream()
    up.set(T0, ("m",), 5)
    poll(ledger, up, T0 + 10)
    before = ledger.samples("t")
    up.set(T0, ("m",), 50)
    up.set(T0, ("n",), 7)
    ledger._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON buckets BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(LedgerError, match="cannot save"):
        poll(ledger, up, T0 + 20)
    assert ledger.samples("t") == before
    ledger._db.execute("DROP TRIGGER boom")
    ledger.close()
    ledger = open_ledger(tmp_path)
    assert ledger.samples("t") == before
    poll(ledger, up, T0 + 30)
    assert counter(ledger) == {("m",): 50, ("n",): 7}


def test_read_only_state_file_is_a_clear_error(tmp_path: Path) -> None:
    ledger, up = open_ledger(tmp_path), Upstream()
    up.set(T0, ("m",), 5)
    ledger._db.execute("PRAGMA query_only=ON")
    with pytest.raises(LedgerError):
        poll(ledger, up, T0 + 10)
    assert counter(ledger) == {}


def test_month_origin_and_period_gauges_roll_over(tmp_path: Path) -> None:
    # 2026-03-31 22:00 UTC: daily cost buckets, counting from the first of the month.
    evening = calendar.timegm((2026, 3, 31, 22, 0, 0))
    clock = [float(evening)]
    ledger = open_ledger(tmp_path, clock=lambda: clock[0])
    costs = Stream("costs", width=86400, lookback=2 * 86400, backfill=7 * 86400, month_origin=True)
    assert window_of(ledger, evening, costs).start == calendar.timegm((2026, 3, 1, 0, 0, 0))
    up = Upstream()
    for day in range(1, 32):
        up.set(calendar.timegm((2026, 3, day, 0, 0, 0)), ("p",), 0.5)
    poll(ledger, up, evening, costs, "cost_usd_total")
    assert counter(ledger, "cost_usd_total") == {("p",): pytest.approx(15.5)}
    assert counter(ledger, "cost_today_usd") == {("p",): 0.5}
    assert counter(ledger, "cost_month_usd") == {("p",): pytest.approx(15.5)}
    # Past midnight into April: March is settled; today and this month start from zero.
    april = calendar.timegm((2026, 4, 1, 0, 30, 0))
    clock[0] = float(april)
    up.set(april - april % 86400, ("p",), 0.25)
    poll(ledger, up, april + 3 * 86400, costs, "cost_usd_total")  # settles March
    clock[0] = float(april)
    assert counter(ledger, "cost_today_usd") == {("p",): 0.25}
    assert counter(ledger, "cost_month_usd") == {("p",): 0.25}
    assert counter(ledger, "cost_usd_total") == {("p",): pytest.approx(15.75)}
    clock[0] = float(evening)  # the settled March sum is still known per day and month
    assert counter(ledger, "cost_month_usd") == {("p",): pytest.approx(15.5)}
    assert counter(ledger, "cost_today_usd") == {("p",): 0.5}


def test_cardinality_overflow_keeps_the_family_sum_exact(tmp_path: Path) -> None:
    ledger, up = open_ledger(tmp_path, max_series_per_family=3), Upstream()
    for i in range(10):
        up.set(T0, (f"m{i}",), i + 1)
    stats = ledger.commit("t", T0 + 10, [(STREAM, up.read(ledger, T0 + 10))])
    values = counter(ledger)
    assert len(values) == 4 and (OVERFLOW,) in values
    assert sum(values.values()) == sum(range(1, 11))
    assert stats.overflowed == 7


def test_levels_replace_the_streams_previous_levels(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    stream = Stream("store", 0, 0, 0)
    ledger.commit(
        "t",
        T0,
        [
            (
                stream,
                StreamRead(
                    "store",
                    T0,
                    T0,
                    levels=[Level("stored_bytes", ("a",), 10), Level("stored_bytes", ("b",), 20)],
                ),
            )
        ],
    )
    ledger.commit(
        "t",
        T0 + 1,
        [(stream, StreamRead("store", T0, T0, levels=[Level("stored_bytes", ("a",), 11)]))],
    )
    assert counter(ledger, "stored_bytes") == {("a",): 11}
    ledger.close()
    assert counter(open_ledger(tmp_path), "stored_bytes") == {("a",): 11}


def test_a_foreign_or_corrupt_file_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="not a usage-exporter state file"):
        Ledger(garbage)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="does not belong"):
        Ledger(other)
    assert garbage.read_bytes().startswith(b"this is not"), "never overwritten"


def test_random_polls_revisions_and_restarts_match_an_independent_model(tmp_path: Path) -> None:
    rng = random.Random(1234)
    stream = Stream("usage", width=H, lookback=2 * H, backfill=5 * H)
    ledger, up = open_ledger(tmp_path), Upstream()
    origin = window_of(ledger, T0, stream).start
    peak: dict[tuple[str, ...], float] = {}
    settled: set[int] = set()
    now = T0
    for _ in range(300):
        now += rng.choice([60, 600, 1800, 3600, 7200])
        open_start = now - now % H
        for labels in [("a",), ("b",), ("c",)]:
            for back in range(3):  # the open bucket and the two before it may change
                b = open_start - back * H
                if b < origin or b in settled or rng.random() < 0.5:
                    continue
                old = up.buckets.get(b, {}).get(labels, 0)
                step = rng.randint(-3, 10) if back else rng.randint(0, 10)
                up.set(b, labels, max(0, old + step))
        if rng.random() < 0.1:
            ledger.close()
            ledger = open_ledger(tmp_path)
        poll(ledger, up, now, stream)
        settled.update(b for b in up.buckets if b + H <= now - 2 * H)
        values = counter(ledger)
        for labels in [("a",), ("b",), ("c",)]:
            truth = up.total(labels, origin)
            peak[labels] = max(peak.get(labels, 0), truth)
            assert values.get(labels, 0) == peak[labels], (labels, now)


def test_several_streams_feeding_one_family_stay_exact(tmp_path: Path) -> None:
    rng = random.Random(99)
    streams = [Stream(f"s{i}", width=H, lookback=2 * H, backfill=3 * H) for i in range(3)]
    ledger = open_ledger(tmp_path)
    upstreams = {s.name: Upstream() for s in streams}
    origin = window_of(ledger, T0, streams[0]).start
    now = T0
    for _ in range(150):
        now += rng.choice([300, 1800, 3600, 5400])
        hour = now - now % H
        for up in upstreams.values():
            for labels in [("a",), ("b",)]:
                for back in range(2):
                    if rng.random() < 0.6 and hour - back * H >= origin:
                        old = up.buckets.get(hour - back * H, {}).get(labels, 0)
                        up.set(hour - back * H, labels, old + rng.randint(0, 9))
        if rng.random() < 0.1:
            ledger.close()
            ledger = open_ledger(tmp_path)
        chosen = [s for s in streams if rng.random() < 0.8]  # some streams fail this poll
        ledger.commit("t", now, [(s, upstreams[s.name].read(ledger, now, s)) for s in chosen])
        values = counter(ledger)
        for labels in [("a",), ("b",)]:
            truth = sum(up.total(labels, origin) for up in upstreams.values())
            assert values.get(labels, 0) <= truth, "never more than the upstream's total"
    # Once every stream is read after the last change, the counters equal the totals.
    now += 60
    ledger.commit("t", now, [(s, upstreams[s.name].read(ledger, now, s)) for s in streams])
    for labels in [("a",), ("b",)]:
        assert counter(ledger)[labels] == sum(up.total(labels, origin) for up in upstreams.values())


@given(st.lists(st.text(), max_size=6).map(tuple))
def test_labels_are_stored_as_json_dumps_would_write_them(labels: tuple[str, ...]) -> None:
    assert _labels_json(labels) == json.dumps(labels)
    assert tuple(json.loads(_labels_json(labels))) == labels


def test_a_stream_that_vanishes_and_returns_is_not_counted_twice(tmp_path: Path) -> None:
    """Found by the fault soak: forgetting a vanished stream's cursor made its return re-read
    everything from the backfill origin on top of what was already counted."""
    ledger = open_ledger(tmp_path)
    upstream = Upstream()
    for b in range(T0 - 24 * H, T0, H):
        upstream.set(b, ("m",), 1.0)
    poll(ledger, upstream, T0 + 60)
    assert counter(ledger) == {("m",): 24.0}
    ledger.forget_levels("t", STREAM.name)  # the source did not list the stream in one poll
    later = T0 + 2 * H
    assert window_of(ledger, later).start > T0 - 24 * H, "on from the cursor"
    poll(ledger, upstream, later)
    assert counter(ledger) == {("m",): 24.0}


def stored_state(ledger: Ledger) -> dict[str, object]:
    """Everything a ledger holds per target, as plain values (a series by its labels)."""
    return {
        target: (
            {
                (name, labels): (s.id, s.origin, s.base, s.emitted, s.buckets, s.periods)
                for name, series in state.series.items()
                for labels, s in series.items()
            },
            {name: (c.cursor, c.origin, c.width) for name, c in state.cursors.items()},
            {name: levels for name, levels in state.levels.items() if levels},
        )
        for target, state in ledger._targets.items()
    }


def random_poll(
    ledger: Ledger,
    upstreams: dict[str, Upstream],
    streams: list[Stream],
    rng: random.Random,
    now: int,
    label_sets: list[tuple[str, ...]],
) -> None:
    """Revise the upstreams' last three hours at random (up, down, to 0), then commit a read
    of a random choice of the streams."""
    hour = now - now % H
    for up in upstreams.values():
        for labels in label_sets:
            for back in range(3):
                if rng.random() < 0.5:
                    old = up.buckets.get(hour - back * H, {}).get(labels, 0)
                    up.set(hour - back * H, labels, max(0, old + rng.randint(-4, 9)))
    chosen = [s for s in streams if rng.random() < 0.8]
    ledger.commit(
        "t",
        now,
        [(s, upstreams[s.name].read(ledger, now, s, "cost_usd_total")) for s in chosen],
    )


def test_the_state_file_always_holds_what_memory_holds(tmp_path: Path) -> None:
    """A commit writes only what changed; after every poll, a ledger loaded from the file
    equals the one that wrote it: revisions up and down, buckets that drop to 0, settling
    into day and month sums, pruned periods and a second stream."""
    rng = random.Random(7)
    streams = [Stream(f"s{i}", width=H, lookback=2 * H, backfill=6 * H) for i in range(2)]
    ledger = open_ledger(tmp_path)
    upstreams = {s.name: Upstream() for s in streams}
    now = T0
    for step in range(120):
        now += 20 * 86400 if step % 30 == 29 else rng.choice([60, 900, 3600, 7200])
        random_poll(ledger, upstreams, streams, rng, now, [("a",), ("b",), ("c",)])
        reloaded = Ledger(tmp_path / "state.sqlite")
        try:
            assert stored_state(reloaded) == stored_state(ledger), now
        finally:
            reloaded.close()
        # The poll that moves a cursor past a bucket's end folds that bucket.
        cursors = {s.name: ledger.cursor("t", s.name) or 0 for s in streams}
        late = [
            (labels, bucket)
            for series in ledger._targets["t"].series.values()
            for labels, one in series.items()
            for bucket, (end, _) in one.buckets.items()
            if end <= cursors[bucket[0]]
        ]
        assert late == [], now


def test_one_unmentioned_bucket_among_many_mentioned_is_zero(tmp_path: Path) -> None:
    """A re-read that mentions every stored bucket but one still sets that one to 0 (the
    look-up of unmentioned buckets is skipped only when the read mentions all of them)."""
    ledger, up = open_ledger(tmp_path), Upstream()
    now = T0 + 10
    for i in range(50):
        up.set(T0 - H, (f"m{i}",), 10)
        up.set(T0, (f"m{i}",), 3)
    poll(ledger, up, now)
    del up.buckets[T0 - H][("m7",)]
    for i in range(50):
        up.set(T0, (f"m{i}",), 4)
    stats = ledger.commit("t", now + 5, [(STREAM, up.read(ledger, now + 5))])
    assert stats.revisions_down == 1 and stats.revisions_up == 50
    up.set(T0 - H, ("m7",), 2)  # it comes back lower: counted from 0 again, under the peak
    poll(ledger, up, now + 6)
    totals = counter(ledger)
    assert totals[("m7",)] == 13 and totals[("m8",)] == 14
    up.set(T0 - H, ("m7",), 12)
    poll(ledger, up, now + 7)
    assert counter(ledger)[("m7",)] == 16


def open_buckets_recounted(ledger: Ledger) -> tuple[object, object]:
    """The per-stream index and bucket counts, as recounted from the series themselves (the
    index holds the stored series objects: a stale copy compares unequal)."""
    state = ledger._targets["t"]
    by_stream: dict[str, set[Series]] = {}
    counts: dict[str, dict[int, int]] = {}
    for series in state.series.values():
        for one in series.values():
            for stream, start in one.buckets:
                by_stream.setdefault(stream, set()).add(one)
                per = counts.setdefault(stream, {})
                per[start] = per.get(start, 0) + 1
    return by_stream, counts


def test_the_open_bucket_index_matches_the_series(tmp_path: Path) -> None:
    """`by_stream` and `open_buckets` (which let a commit skip series) stay exactly what the
    series hold, through revisions, buckets dropping to 0, settling and a restart."""
    rng = random.Random(11)
    lookbacks = (2 * H, 5 * H)  # a bucket settles two or five hours after it ends
    streams = [Stream(f"s{i}", H, back, 6 * H) for i, back in enumerate(lookbacks)]
    upstreams, ledger = {s.name: Upstream() for s in streams}, open_ledger(tmp_path)
    gaps = [rng.choice([60, 900, 3600, 7200]) for _ in range(60)]
    for step, now in enumerate(itertools.accumulate(gaps, initial=T0 + gaps[0])):
        random_poll(ledger, upstreams, streams, rng, now, [("a",), ("b",), ("c",), ("d",)])
        state = ledger._targets["t"]
        by_stream, counts = open_buckets_recounted(ledger)
        assert {k: v for k, v in state.by_stream.items() if v} == by_stream, step
        assert {k: v for k, v in state.open_buckets.items() if v} == counts, step
        if step % 20 == 19:
            ledger.close()
            ledger = open_ledger(tmp_path)
    ledger.close()


def test_a_poll_that_raises_every_series_changes_them_in_place(tmp_path: Path) -> None:
    """The commit writes each new value into the series' array (`Series.nums`): the series,
    their arrays and their open-bucket dicts stay the objects they were (a new float or tuple
    per series and poll would pin the allocator's arenas), and the counters are exact."""
    ledger, up = open_ledger(tmp_path), Upstream()
    origin = window_of(ledger, T0).start
    now = T0 + 60
    users = [(f"u{i}",) for i in range(50)]
    kept: dict[tuple[str, ...], tuple[object, ...]] = {}
    for step in range(3):
        for at, labels in enumerate(users):
            up.set(now - now % H, labels, at + 1 + step)
        poll(ledger, up, now + step * 60)
        stored = ledger._targets["t"].series["tokens_total"]
        objects: dict[tuple[str, ...], tuple[object, ...]] = {
            labels: (s, s.nums, s.open) for labels, s in stored.items()
        }
        if step:
            same = [a is b for k in users for a, b in zip(objects[k], kept[k], strict=True)]
            assert all(same), step
        kept = objects
    assert counter(ledger) == {labels: up.total(labels, origin) for labels in users}


def test_new_series_are_made_in_the_order_rows_name_them_with_room_for_their_buckets(
    tmp_path: Path,
) -> None:
    """A read's new series are made in one burst before its values are set (`_new_series`):
    ids in the order the rows first name them, each series once, each array made with room for
    the buckets its rows open (grown by appends, it would hold more and leave its old buffer
    among the poll's short-lived objects). A later read of the same commit makes none again.
    Loading makes each array with room for the series' open buckets too."""
    ledger = open_ledger(tmp_path)
    window = window_of(ledger, T0 + 60)
    hour = [window.end - k * H for k in (3, 2, 1)]
    rows = [  # labels, hour, value: "a" twice in one hour, "z" only a 0
        (("b",), 0, 1.0),
        (("a",), 1, 2.0),
        (("b",), 1, 3.0),
        (("c",), 2, 4.0),
        (("a",), 1, 5.0),
        (("b",), 2, 6.0),
        (("z",), 0, 0.0),
    ]
    flows = [Flow("tokens_total", k, hour[h], hour[h] + H, v) for k, h, v in rows]
    read = StreamRead(STREAM.name, window.start, window.end, flows)
    again = StreamRead(STREAM.name, window.start, window.end, flows[:2])
    ledger.commit("t", T0 + 60, [(STREAM, read), (STREAM, again)])
    stored = ledger._targets["t"].series["tokens_total"]
    by_id = sorted(stored.values(), key=lambda s: s.id)
    assert [s.labels for s in by_id] == [("b",), ("a",), ("c",), ("z",)]
    assert [s.id for s in by_id] == list(range(by_id[0].id, by_id[0].id + 4))
    assert {s.labels[0]: len(s.open) for s in by_id} == {"b": 3, "a": 1, "c": 1, "z": 0}
    for series in by_id:  # room for a bucket per row that named it
        room = sum(k == series.labels for k, _, _ in rows)
        assert sys.getsizeof(series.nums) == sys.getsizeof(new_nums(room)), series.labels
    ledger.close()
    loaded = open_ledger(tmp_path)._targets["t"].series["tokens_total"]  # a restart
    assert {k: (s.id, s.buckets) for k, s in loaded.items()} == {
        k: (s.id, s.buckets) for k, s in stored.items()
    }
    for series in loaded.values():  # room for its open buckets, loaded
        assert sys.getsizeof(series.nums) == sys.getsizeof(new_nums(len(series.open)))


def memory_of(ledger: Ledger) -> object:
    """All a ledger holds in memory for target "t", the index of open buckets included: a deep
    copy (a commit changes the series' dicts in place)."""
    state = ledger._targets["t"]
    return copy.deepcopy(
        (
            stored_state(ledger),
            {k: {(s.family, s.labels) for s in v} for k, v in state.by_stream.items() if v},
            {k: dict(v) for k, v in state.open_buckets.items() if v},
            dict(state.earliest),
        )
    )


def test_a_failed_commit_that_settles_puts_memory_back(tmp_path: Path) -> None:
    """A commit changes series in place: one whose transaction fails, after it raised buckets,
    folded settled ones into bases and day and month sums, pruned old sums and made new series,
    leaves memory exactly as it was, and the next commit counts as if it never ran."""
    ledger, up = open_ledger(tmp_path), Upstream()
    (tmp_path / "twin").mkdir()
    twin = open_ledger(tmp_path / "twin")  # the same polls, without the failed one
    for back in range(30):
        up.set(T0 - back * H, ("m",), 1 + back % 4)
        up.set(T0 - back * H, ("k",), 2)
    poll(ledger, up, T0 + 10)
    poll(twin, up, T0 + 10)
    up.set(T0, ("m",), 40)
    up.set(T0 + H, ("new",), 7)
    later = T0 + 40 * 86400  # a month on: every bucket settles, old sums are pruned
    before = memory_of(ledger)
    samples_before = ledger.samples("t")
    ledger._db.execute(
        "CREATE TRIGGER boom BEFORE UPDATE ON series BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(LedgerError, match="cannot save"):
        poll(ledger, up, later)
    assert memory_of(ledger) == before
    assert ledger.samples("t") == samples_before
    ledger._db.execute("DROP TRIGGER boom")
    poll(ledger, up, later)
    reloaded = Ledger(tmp_path / "state.sqlite")
    try:
        assert stored_state(reloaded) == stored_state(ledger)
    finally:
        reloaded.close()
    poll(twin, up, later)
    assert counter(ledger) == counter(twin) and counter(ledger)[("new",)] == 7
    assert counter(ledger)[("m",)] > counter(ledger)[("k",)] > 0
    assert stored_state(ledger) == stored_state(twin)
    twin.close()


def test_a_rendering_never_reads_a_commit_that_is_not_durable(tmp_path: Path) -> None:
    """`samples` from another thread while a commit is inside its transaction (the series
    already changed in place) waits for it; the commit then fails, and the reading sees the
    state before it, never the values of a commit that did not happen."""
    ledger, up = open_ledger(tmp_path), Upstream()
    up.set(T0, ("m",), 5)
    poll(ledger, up, T0 + 10)
    before = ledger.samples("t")
    inside, release = threading.Event(), threading.Event()

    def pause() -> int:
        inside.set()
        release.wait(10)
        return 0

    ledger._db.create_function("pause", 0, pause)
    ledger._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON buckets "
        "BEGIN SELECT pause(); SELECT RAISE(ABORT, 'disk full'); END"
    )
    up.set(T0, ("m",), 50)
    failed: list[BaseException] = []

    def commit() -> None:
        try:
            poll(ledger, up, T0 + 20)
        except LedgerError as err:
            failed.append(err)

    writer = threading.Thread(target=commit)
    writer.start()
    assert inside.wait(10)
    read: list[object] = []
    reader = threading.Thread(target=lambda: read.append(ledger.samples("t")))
    reader.start()
    reader.join(0.5)  # it waits for the commit (were it to read now, it would see 50)
    release.set()
    writer.join(10)
    reader.join(10)
    assert failed and read == [before]
    ledger._db.execute("DROP TRIGGER boom")
    poll(ledger, up, T0 + 30)
    assert counter(ledger) == {("m",): 50}


def test_a_failed_commit_that_reads_a_stream_twice_puts_memory_back(tmp_path: Path) -> None:
    """One commit with two reads of one stream changes a bucket twice (up, then up again, or to
    0): the journal keeps what it held before the commit, so a failed transaction puts that
    back, and once it succeeds the file holds the second read's values."""
    ledger, up = open_ledger(tmp_path), Upstream()
    up.set(T0, ("m",), 5)
    up.set(T0, ("k",), 3)
    poll(ledger, up, T0 + 10)
    before = memory_of(ledger)
    up.set(T0, ("m",), 8)
    first = up.read(ledger, T0 + 20)
    up.set(T0, ("m",), 13)
    up.set(T0, ("k",), 0)
    second = up.read(ledger, T0 + 20)
    ledger._db.execute(
        "CREATE TRIGGER boom BEFORE UPDATE ON series BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(LedgerError, match="cannot save"):
        ledger.commit("t", T0 + 20, [(STREAM, first), (STREAM, second)])
    assert memory_of(ledger) == before
    ledger._db.execute("DROP TRIGGER boom")
    ledger.commit("t", T0 + 20, [(STREAM, first), (STREAM, second)])
    assert counter(ledger) == {("m",): 13, ("k",): 3}
    reloaded = Ledger(tmp_path / "state.sqlite")
    try:
        assert stored_state(reloaded) == stored_state(ledger)
    finally:
        reloaded.close()


def test_flows_no_counter_of_the_target_takes_are_ignored(tmp_path: Path) -> None:
    """A flow of an undeclared family, of a gauge, or with the wrong number of labels is
    counted as ignored and makes no series; the flows around it still count."""
    ledger = open_ledger(tmp_path)
    flows = [
        Flow("tokens_total", ("m",), T0, T0 + H, 3),
        Flow("unknown_total", ("m",), T0, T0 + H, 4),
        Flow("stored_bytes", ("p",), T0, T0 + H, 5),
        Flow("tokens_total", ("m", "extra"), T0, T0 + H, 6),
        Flow("tokens_total", (), T0, T0 + H, 7),
        Flow("cost_usd_total", ("p",), T0, T0 + H, 2),
    ]
    stats = ledger.commit("t", T0 + 10, [(STREAM, StreamRead("usage", T0, T0 + H, flows))])
    assert stats.ignored_flows == 4
    assert counter(ledger) == {("m",): 3}
    assert counter(ledger, "cost_usd_total") == {("p",): 2}
