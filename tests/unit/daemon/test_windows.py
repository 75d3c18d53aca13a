"""Window planning on its own: origins, the catch-up bound, halving after a timeout, growing
back only with time to spare, the hand-over boundary, and forgetting on a restart."""

from __future__ import annotations

import calendar

from exporter.daemon.windows import WindowPlanner, fixed_origin, next_window, origin
from exporter.model import Stream, Window

H = 3600
DAY = 86400
T0 = 1_760_000_400 - 1_760_000_400 % H  # an hour boundary
HOURLY = Stream("usage", width=H, lookback=3 * H, backfill=24 * H)


def test_a_first_window_reaches_back_backfill_to_the_open_bucket() -> None:
    now = T0 + 600
    assert next_window(HOURLY, now, None) == Window(T0 - 24 * H, T0 + H)


def test_a_stream_with_month_gauges_reaches_back_to_the_month_start() -> None:
    costs = Stream("costs", width=DAY, lookback=2 * DAY, backfill=7 * DAY, month_origin=True)
    evening = calendar.timegm((2026, 3, 20, 18, 0, 0))
    assert origin(costs, evening) == calendar.timegm((2026, 3, 1, 0, 0, 0))
    early = calendar.timegm((2026, 3, 2, 6, 0, 0))  # backfill reaches further than the month
    assert origin(costs, early) == calendar.timegm((2026, 2, 23, 0, 0, 0))


def test_count_from_fixes_the_origin_whatever_the_time() -> None:
    count_from = T0 - 5 * DAY + 1800
    for now in (T0, T0 + 3 * DAY + 777, T0 + 40 * DAY):
        assert origin(HOURLY, now, count_from) == T0 - 5 * DAY == fixed_origin(HOURLY, count_from)
    # the span grows with the distance to count_from: a first poll reads all of it
    window = next_window(HOURLY, T0 + 600, None, count_from)
    assert window == Window(T0 - 5 * DAY, T0 + H)


def test_a_steady_poll_reads_from_the_cursor_to_the_open_bucket() -> None:
    now = T0 + 600
    assert next_window(HOURLY, now, T0 - 3 * H) == Window(T0 - 3 * H, T0 + H)


def test_after_a_long_gap_no_poll_reads_more_than_a_first_poll() -> None:
    now = T0  # on a boundary: a first poll reads backfill and the open bucket, 25 h
    assert next_window(HOURLY, now, None) == Window(T0 - 24 * H, T0 + H)
    window = next_window(HOURLY, now, T0 - 10 * DAY)
    assert window == Window(T0 - 10 * DAY, T0 - 10 * DAY + 25 * H)


def test_a_cursor_past_the_open_bucket_is_an_empty_window() -> None:
    # a hand-over moved the cursor to the next boundary of a wider bucket
    boundary = T0 + 6 * H
    window = next_window(HOURLY, T0 + 600, boundary)
    assert window.end <= window.start


def test_a_levels_stream_reads_now() -> None:
    levels = Stream("stored", width=0, lookback=0, backfill=0)
    planner = WindowPlanner()
    assert planner.window("t", levels, T0 + 5, None) == Window(T0 + 5, T0 + 5)
    planner.timed_out("t", levels, Window(T0 + 5, T0 + 5))
    assert not planner.catching_up()


def test_a_timed_out_window_is_halved_and_never_below_a_steady_poll() -> None:
    planner = WindowPlanner()
    now = T0 + 600
    first = planner.window("t", HOURLY, now, None)
    assert first.end - first.start == 25 * H
    planner.timed_out("t", HOURLY, first)
    assert planner.catching_up("t") and not planner.catching_up("other")
    spans = []
    window = first
    for _ in range(6):
        window = planner.window("t", HOURLY, now, None)
        spans.append(window.end - window.start)
        planner.timed_out("t", HOURLY, window)
    # 12 h, 6 h, then the floor: the lookback, the open bucket and the one before it (5 h)
    assert spans == [12 * H, 6 * H, 5 * H, 5 * H, 5 * H, 5 * H]
    assert window.start == first.start, "a shorter window starts where the cursor is"


def test_a_halved_window_doubles_only_after_a_read_with_time_to_spare() -> None:
    planner = WindowPlanner()
    now = T0
    cursor = T0 - 10 * DAY
    planner.timed_out("t", HOURLY, planner.window("t", HOURLY, now, cursor))  # 25 h -> 12 h
    window = planner.window("t", HOURLY, now, cursor)
    assert window.end - window.start == 12 * H
    planner.read_whole("t", HOURLY, window, now, used=0.5, budget=1.0)  # half its time: kept
    assert planner.window("t", HOURLY, now, cursor) == window
    planner.read_whole("t", HOURLY, window, now, used=0.4, budget=1.2)  # a third: kept
    assert planner.window("t", HOURLY, now, cursor) == window
    planner.read_whole("t", HOURLY, window, now, used=0.1, budget=1.0)  # spare: doubled
    doubled = planner.window("t", HOURLY, now, cursor)
    assert doubled.end - doubled.start == 24 * H
    planner.read_whole("t", HOURLY, doubled, now, used=0.1, budget=1.0)
    grown = planner.window("t", HOURLY, now, cursor)
    assert grown.end - grown.start == 25 * H, "never more than a first poll"
    assert planner.catching_up("t")


def test_a_read_that_reaches_the_open_bucket_ends_the_catch_up() -> None:
    planner = WindowPlanner()
    now = T0 + 600
    planner.timed_out("t", HOURLY, Window(T0 - 24 * H, T0 + H))
    window = planner.window("t", HOURLY, now, T0 - 3 * H)
    assert window == Window(T0 - 3 * H, T0 + H)
    planner.read_whole("t", HOURLY, window, now, used=0.9, budget=1.0)  # slow, but caught up
    assert not planner.catching_up()


def test_forget_gives_a_restarted_target_whole_windows_again() -> None:
    planner = WindowPlanner()
    planner.timed_out("a", HOURLY, Window(T0 - 24 * H, T0 + H))
    planner.timed_out("b", HOURLY, Window(T0 - 24 * H, T0 + H))
    planner.forget("a")
    assert not planner.catching_up("a") and planner.catching_up("b")
    assert planner.window("a", HOURLY, T0 + 600, None) == Window(T0 - 24 * H, T0 + H)
