"""The ledger's daily history (`charges`) of families declared with `history`: a day's value is
booked in its own month while that month is open, a revision after the month closed in the
month it is observed in (the difference, exact in decimal; also a cost line that appears only
then), a day of a stream's very first read in its own month; it survives a restart, and
retention drops whole billing periods."""

from __future__ import annotations

import calendar
import sqlite3
from decimal import Decimal
from pathlib import Path

from exporter.ledger import Ledger
from exporter.model import Family, Flow, Kind, Period, Stream, StreamRead, months_before

DAY = 86400
NOV = calendar.timegm((2026, 11, 1, 0, 0, 0))
DEC = calendar.timegm((2026, 12, 1, 0, 0, 0))
JAN = calendar.timegm((2027, 1, 1, 0, 0, 0))
FEB = calendar.timegm((2027, 2, 1, 0, 0, 0))
COST = Family("cost_total", Kind.COUNTER, "cost", ("item",), history=True)
TOKENS = Family("tokens_total", Kind.COUNTER, "tokens", ("item",))
STREAM = Stream("costs", DAY, 2 * DAY, 40 * DAY, month_origin=True)


def read(start: int, end: int, values: dict[int, float], family: str = "cost_total") -> StreamRead:
    flows = [Flow(family, ("a",), d, d + DAY, v) for d, v in values.items()]
    return StreamRead("costs", start, end, flows)


def charges(path: Path) -> list[tuple[int, int, float]]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT period, day, amount FROM charges ORDER BY day, period")
        return [(int(p), int(d), float(a)) for p, d, a in rows]
    finally:
        db.close()


def ledger(path: Path, now: int) -> Ledger:
    led = Ledger(path, clock=lambda: float(now), history_months=1)
    led.declare("t", [COST, TOKENS])
    return led


def test_a_day_is_booked_in_its_month_and_revised_there_while_it_is_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    led = ledger(path, NOV + 10 * DAY)
    day = NOV + 9 * DAY
    led.commit("t", day + 3600, [(STREAM, read(day - DAY, day + DAY, {day: 0.1}))])
    led.commit("t", day + 7200, [(STREAM, read(day - DAY, day + DAY, {day: 0.3}))])
    assert charges(path) == [(NOV, day, 0.3)]
    led.close()


def test_a_revision_after_the_month_closed_is_booked_where_it_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    last = DEC - DAY
    led = ledger(path, DEC - 60)
    led.commit("t", DEC - 60, [(STREAM, read(last, DEC, {last: 0.75}))])
    led.close()
    led = ledger(path, DEC + 600)  # a restart at the month boundary
    led.commit("t", DEC + 600, [(STREAM, read(last, DEC + DAY, {last: 0.8}))])
    led.commit("t", DEC + 900, [(STREAM, read(last, DEC + DAY, {last: 0.825}))])
    rows = charges(path)
    assert rows == [(NOV, last, 0.75), (DEC, last, 0.075)]  # 0.825 - 0.75, exactly
    assert sum(Decimal(repr(a)) for _, _, a in rows) == Decimal("0.825")
    # a revision down after close is a negative correction
    led.commit("t", DEC + 1200, [(STREAM, read(last, DEC + DAY, {last: 0.7}))])
    assert charges(path)[-1] == (DEC, last, -0.05)
    led.close()


def test_a_cost_line_that_appears_after_its_month_closed_is_a_correction(
    tmp_path: Path,
) -> None:
    """A day read while its month was open, at zero or absent (a model, a workspace that had
    no cost yet), whose cost shows up once the month closed: the closed month stays as it was
    fetched, and the cost is booked in the month it is observed in."""
    path = tmp_path / "ledger.sqlite"
    led = ledger(path, DEC - 60)
    before_last, last = DEC - 2 * DAY, DEC - DAY
    led.commit("t", DEC - 60, [(STREAM, read(before_last, DEC, {before_last: 1.0}))])
    assert charges(path) == [(NOV, before_last, 1.0)]
    led.commit("t", DEC + 600, [(STREAM, read(before_last, DEC, {before_last: 1.0, last: 0.5}))])
    assert charges(path) == [(NOV, before_last, 1.0), (DEC, last, 0.5)]
    led.close()


def test_a_day_first_seen_after_its_month_closed_is_booked_in_its_month(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    led = ledger(path, DEC + DAY)
    last = DEC - DAY
    led.commit("t", DEC + DAY, [(STREAM, read(last, DEC + DAY, {last: 2.5, DEC: 1.0}))])
    assert charges(path) == [(NOV, last, 2.5), (DEC, DEC, 1.0)]
    led.close()


def test_only_history_families_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    led = ledger(path, NOV + DAY)
    led.commit("t", NOV + DAY, [(STREAM, read(NOV, NOV + DAY, {NOV: 5.0}, "tokens_total"))])
    assert charges(path) == []
    led.close()


def test_retention_drops_whole_billing_periods(tmp_path: Path) -> None:
    """With one month kept before the current one: in January, November's period goes; the
    correction of 30 November booked in December stays (December's file must not change); in
    February, December's goes."""
    path = tmp_path / "ledger.sqlite"
    led = ledger(path, DEC - 60)
    last = DEC - DAY
    led.commit("t", DEC - 60, [(STREAM, read(last, DEC, {last: 1.0}))])
    led.commit("t", DEC + 60, [(STREAM, read(last, DEC + DAY, {last: 1.5, DEC: 2.0}))])
    assert [p for p, _, _ in charges(path)] == [NOV, DEC, DEC]
    led.commit("t", JAN + 60, [(STREAM, read(JAN - DAY, JAN + DAY, {JAN: 3.0}))])
    assert charges(path) == [(DEC, last, 0.5), (DEC, DEC, 2.0), (JAN, JAN, 3.0)]
    led.commit("t", FEB + 60, [(STREAM, read(FEB - DAY, FEB + DAY, {FEB: 4.0}))])
    assert charges(path) == [(JAN, JAN, 3.0), (FEB, FEB, 4.0)]
    led.close()


def test_an_older_file_is_seeded_from_the_day_sums_it_holds(tmp_path: Path) -> None:
    """A file written without history (the family had none): when the family is first declared
    with it, the days the file still knows (this month and the last) become charges, once.
    (Earlier versions kept day sums for every family; this one for those a gauge sums, as
    here, or with history.)"""
    path = tmp_path / "ledger.sqlite"
    plain = Family("cost_total", Kind.COUNTER, "cost", ("item",))
    today = Family("cost_today", Kind.GAUGE, "today", ("item",), sums=plain.name, period=Period.DAY)
    led = Ledger(path, clock=lambda: float(DEC + 5 * DAY))
    led.declare("t", [plain, today])
    days = {NOV - 5 * DAY: 9.0, NOV + 3 * DAY: 1.25, DEC + DAY: 2.0, DEC + 4 * DAY: 0.5}
    led.commit("t", DEC + 4 * DAY + 60, [(STREAM, read(NOV - 5 * DAY, DEC + 5 * DAY, days))])
    led.close()
    assert charges(path) == []
    for _ in range(2):  # twice: seeded once
        led = ledger(path, DEC + 5 * DAY)
        led.close()
    # October's day sum was pruned by 0.1.0-era rules (older than the previous month): gone.
    # December's last two days are still open buckets: seeded from them.
    assert charges(path) == [
        (NOV, NOV + 3 * DAY, 1.25),
        (DEC, DEC + DAY, 2.0),
        (DEC, DEC + 4 * DAY, 0.5),
    ]


def test_hourly_buckets_sum_to_their_day_settled_or_open(tmp_path: Path) -> None:
    """A day of hourly buckets is its settled hours plus its open ones: folding changes
    nothing, and a late hour after the month closed is a correction of exactly that hour.
    With a lookback longer than a month (a revision sweep), the day sums stay as long as
    buckets of that day are open."""
    for lookback in (2 * 3600, 40 * DAY):
        path = tmp_path / f"ledger-{lookback}.sqlite"
        led = ledger(path, DEC)
        hourly = Stream("costs", 3600, lookback, 40 * DAY)
        last = DEC - DAY

        def hours(start: int, end: int, values: dict[int, float], led: Ledger = led) -> StreamRead:
            """A read of [start, end), as the window planner asks: from the cursor on."""
            cursor = led.cursor("t", "costs")
            start = max(start, cursor) if cursor is not None else start
            flows = [
                Flow("cost_total", ("a",), h, h + 3600, v)
                for h, v in values.items()
                if start <= h < end
            ]
            return StreamRead("costs", start, end, flows)

        values = {last + h * 3600: 0.125 for h in range(24)}
        for h in range(1, 24):  # hour by hour: older hours settle as the day goes on
            now = last + h * 3600 + 60
            seen = {t: v for t, v in values.items() if t < last + h * 3600}
            led.commit("t", now, [(hourly, hours(last, last + h * 3600, seen))])
        led.commit("t", DEC - 60, [(hourly, hours(last, DEC, values))])
        assert charges(path) == [(NOV, last, 3.0)]
        values[DEC - 3600] = 0.5  # the last hour, revised after midnight
        led.commit("t", DEC + 600, [(hourly, hours(DEC - 3600, DEC + 3600, {DEC - 3600: 0.5}))])
        if lookback > DAY:
            # a 40-day lookback (a revision sweep): on 9 January at noon, the first half of 30
            # November has settled, the rest is open; November is past the retention (one
            # month), but its rows stay while that day can change. An hour revised then is
            # booked in January as exactly its change.
            now = JAN + 8 * DAY + 12 * 3600 + 60
            led.commit("t", now, [(hourly, hours(last, DEC, values))])
            values[DEC - 2 * 3600] = 0.25
            led.commit("t", now + 60, [(hourly, hours(last, DEC, values))])
            assert charges(path) == [(NOV, last, 3.0), (DEC, last, 0.375), (JAN, last, 0.125)]
        else:
            assert charges(path) == [(NOV, last, 3.0), (DEC, last, 0.375)]
        led.close()


def test_months_before_counts_back_whole_utc_months() -> None:
    def utc(*date: int) -> int:
        return calendar.timegm((*date, 0, 0, 0))

    mid_march = utc(2026, 3, 15, 13) + 59
    assert months_before(mid_march, 0) == utc(2026, 3, 1, 0)
    assert months_before(mid_march, 1) == utc(2026, 2, 1, 0)
    assert months_before(mid_march, 13) == utc(2025, 2, 1, 0)  # across a year
    assert months_before(utc(2026, 3, 1, 0), 1) == utc(2026, 2, 1, 0)  # from a month's start
