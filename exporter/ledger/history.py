"""The daily cost history of the families declared with `history` (the `charges` table, read by
the FOCUS export): per series and UTC day, the amount booked in each billing period (UTC month)
it was observed in. A closed month's rows never change: a later revision of one of its days is
booked in the month it is observed in, as the difference."""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from exporter.ledger.errors import LedgerError
from exporter.ledger.series import Series, TargetState, day_start
from exporter.ledger.state_file import transaction
from exporter.model import month_start

if TYPE_CHECKING:
    from exporter.ledger.commit import PendingCommit

log = logging.getLogger("exporter.ledger")


def day_values(series: Series, days: Iterable[int]) -> dict[int, float]:
    """What the series counted in each UTC day of `days` (day starts): its settled day sum and
    the open buckets that start in that day. One pass over the open buckets (minute buckets
    with a month's lookback are 43,200 of them)."""
    parts: dict[int, list[float]] = {}
    for day in days:
        settled = series.periods.get(("day", day))
        parts[day] = [settled] if settled is not None else []
    nums = series.nums
    for (_, start), at in series.open.items():
        found = parts.get(start - start % 86400)
        if found is not None:
            found.append(nums[at + 1])
    return {day: math.fsum(values) for day, values in parts.items()}


def months_between(first: int, last: int) -> list[int]:
    """The starts of the UTC months from the one starting at `first` to `last` (inclusive)."""
    out = [first]
    while out[-1] < last:
        out.append(month_start(out[-1] + 32 * 86400))
    return out


class DailyHistory:
    """The `charges` table of one state file."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self.pruned_before = 0  # `charges` holds no period before this

    def seed(self, target: str, state: TargetState, now: int) -> None:
        """A history family seen for the first time in this file (a state file of an older
        schema, or a family that gained `history`): its days that the file still knows (the
        day sums of this month and the last, open buckets) become its first charges, each in
        its own month. Done once per target and family (a `meta` mark)."""
        for family in state.families.values():
            if not family.history:
                continue
            mark = f"history_seeded:{target}:{family.name}"
            with transaction(self.db, self.path):  # (one already seeded commits nothing)
                if self.db.execute("SELECT 1 FROM meta WHERE key=?", (mark,)).fetchone():
                    continue
                rows: list[tuple[int, int, int, float]] = []
                for series in state.series.get(family.name, {}).values():
                    days = {d for (kind, d) in series.periods if kind == "day"}
                    days |= {day_start(b) for _, b in series.open}
                    for day, value in sorted(day_values(series, days).items()):
                        if value != 0.0 and day <= now:
                            rows.append((month_start(day), series.id, day, value))
                self.db.executemany(
                    "INSERT OR IGNORE INTO charges (period, series_id, day, amount) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                self.db.execute("REPLACE INTO meta (key, value) VALUES (?, ?)", (mark, "1"))

    def charges(
        self, state: TargetState, work: PendingCommit, now: int
    ) -> list[tuple[int, int, int, float]]:
        """The `charges` rows (period, series, day, amount) of the days this commit changed.

        A day of the month being observed (or of a stream's very first read: a new target's
        backfill) is booked in its own month: the amount is the day's value. A day of a closed
        month that changes afterwards (a revision, or a cost line that was zero or absent when
        the month closed) is booked in the month it is observed in, as the difference to what
        earlier months booked (in decimal, from each float's shortest text, converted once): a
        closed month's rows never change."""
        observed = month_start(now)
        rows: list[tuple[int, int, int, float]] = []
        published = [work.touched[key] for key in work.days]
        befores = work.journal.befores([s for s in published if not work.is_new(s)])
        for key, days in work.days.items():
            series = work.touched[key]
            before = befores.get(series.id)
            values = day_values(series, days)
            olds = day_values(before, days) if before is not None else {}
            for day in sorted(days):
                value = values[day]
                if value == olds.get(day, 0.0):
                    continue
                own = month_start(day)
                if observed <= own:
                    rows.append((own, series.id, day, value))
                    continue
                booked = self._booked(series.id, day, months_between(own, observed))
                if not booked and key in work.first_read:
                    rows.append((own, series.id, day, value))
                    continue
                # each float read as the shortest decimal that is it (the vendor's text)
                earlier = sum((Decimal(repr(a)) for p, a in booked if p != observed), Decimal(0))
                rows.append((observed, series.id, day, float(Decimal(repr(value)) - earlier)))
        return rows

    def prune(self, targets: Mapping[str, TargetState], before: int) -> None:
        """Drop the billing periods before `before` from the daily history, but not the rows of
        a day that can still change (a revision is booked as the difference to them). After
        the commit, with its cursors, in a statement of its own: it loses nothing if it fails."""
        revisable = self._revisable_from(targets)
        try:
            self.db.execute(
                "DELETE FROM charges WHERE period < ? AND day < ?",
                (before, revisable if revisable is not None else before),
            )
        except sqlite3.Error as err:  # the commit is durable: try again at the next one
            log.warning(
                "daily cost history not pruned", extra={"file": str(self.path), "error": str(err)}
            )
            return
        self.pruned_before = before

    def _revisable_from(self, targets: Mapping[str, TargetState]) -> int | None:
        """The start of the oldest UTC day a commit may still change in a history family: the
        day of its oldest open bucket, or of a cursor of its target (a read starts there)."""
        oldest: int | None = None
        for state in targets.values():
            history = [n for n, f in state.families.items() if f.history]
            if not history:
                continue
            starts = [c.cursor for c in state.cursors.values() if c.width > 0]
            for name in history:
                for series in state.series.get(name, {}).values():
                    if series.open:
                        starts.append(min(b for _, b in series.open))
            if starts:
                day = day_start(min(starts))
                oldest = day if oldest is None else min(oldest, day)
        return oldest

    def _booked(self, series_id: int, day: int, periods: Iterable[int]) -> list[tuple[int, float]]:
        try:
            return [
                (period, float(row[0]))
                for period in periods
                for row in self.db.execute(
                    "SELECT amount FROM charges WHERE period=? AND series_id=? AND day=?",
                    (period, series_id, day),
                )
            ]
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot read state: {err}") from None
