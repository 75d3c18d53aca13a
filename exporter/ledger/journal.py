"""What a commit changed in the published series, which it changes in place: enough to undo it
(a failed transaction leaves memory as it was), to tell what a series held before (the daily
history compares days), and which rows to write (only what changed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from exporter.ledger.layout import BucketKey
from exporter.ledger.series import PeriodKey, Series

Bucket = tuple[int, float]  # (end, value)
_K = TypeVar("_K")
_V = TypeVar("_V")


class Journal:
    """The values before the commit of what it changed: one entry per changed bucket and period
    sum, the first change's (so undoing is putting each back, in any order)."""

    def __init__(self) -> None:
        # published series the commit changes -> (it, its base and emitted before)
        self.held: dict[int, tuple[Series, float, float]] = {}
        # (series id, bucket) -> (the series, what the bucket held before the commit or None).
        # Written by the commit's loops directly: an entry already there is kept.
        self.buckets: dict[tuple[int, BucketKey], tuple[Series, Bucket | None]] = {}
        self.periods: dict[tuple[int, PeriodKey], tuple[Series, float | None]] = {}

    def hold(self, series: Series) -> None:
        """`series` (published) is about to change: keep its scalar fields."""
        self.held[series.id] = (series, series.base, series.emitted)

    def undo(self) -> None:
        """Put every changed series back as it was."""
        self._put_back(lambda _, series: series)

    def befores(self, wanted: list[Series]) -> dict[int, Series]:
        """Copies of `wanted` as they were before the commit, by id (for the series whose days
        the history compares; one pass over the journal for all of them)."""
        copies = {s.id: s.copy() for s in wanted}
        if copies:  # (a commit of no history series skips the pass over its whole journal)
            self._put_back(lambda sid, _: copies.get(sid))
        return copies

    def _put_back(self, into: Callable[[int, Series], Series | None]) -> None:
        """Write every journaled prior value into the series `into` names for a changed one
        (given its id and itself; None: skip it)."""
        for (sid, key), (series, old) in self.buckets.items():
            if (target := into(sid, series)) is not None:
                target.restore_bucket(key, old)
        for (sid, period), (series, was) in self.periods.items():
            if (target := into(sid, series)) is not None:
                _set(target.periods, period, was)
        for sid, (series, base, emitted) in self.held.items():
            if (target := into(sid, series)) is not None:
                target.base, target.emitted = base, emitted


def _set(values: dict[_K, _V], key: _K, old: _V | None) -> None:
    """`values[key]` back to `old` (None: it had no entry)."""
    if old is None:
        values.pop(key, None)
    else:
        values[key] = old
