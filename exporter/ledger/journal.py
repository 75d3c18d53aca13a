"""What a commit changed in the published series, which it changes in place: enough to undo it
(a failed transaction leaves memory as it was), to tell what a series held before (the daily
history compares days), and which rows to write (only what changed)."""

from __future__ import annotations

from exporter.ledger.series import BucketKey, PeriodKey, Series
from exporter.model import Sample

Bucket = tuple[int, float]  # (end, value)
BucketEntry = tuple[Series, BucketKey, Bucket | None]
PeriodEntry = tuple[Series, PeriodKey, float | None]


class Journal:
    """The prior values of what one commit changed, in the order it changed them."""

    def __init__(self) -> None:
        # published series the commit changes -> (it, its base, emitted and sample before)
        self.held: dict[int, tuple[Series, float, float, Sample | None]] = {}
        # (series, bucket, what it held before or None): one entry per change
        self.buckets: list[BucketEntry] = []
        self.periods: list[PeriodEntry] = []
        # series id -> its entries, for `before` (made when first asked; remade if it grew)
        self._index: dict[int, tuple[list[BucketEntry], list[PeriodEntry]]] = {}
        self._index_at = (0, 0)
        self._first: dict[tuple[int, BucketKey], tuple[Series, Bucket | None]] = {}
        self._first_at = 0

    def hold(self, series: Series) -> None:
        """`series` (published) is about to change: keep its scalar fields."""
        self.held[series.id] = (series, series.base, series.emitted, series.sample)

    def undo(self) -> None:
        """Put every changed series back as it was (newest change first)."""
        for series, key, old in reversed(self.buckets):
            if old is None:
                series.buckets.pop(key, None)
            else:
                series.buckets[key] = old
        for series, period, was in reversed(self.periods):
            if was is None:
                series.periods.pop(period, None)
            else:
                series.periods[period] = was
        for series, base, emitted, sample in self.held.values():
            series.base, series.emitted, series.sample = base, emitted, sample

    def changed_buckets(self) -> dict[tuple[int, BucketKey], tuple[Series, Bucket | None]]:
        """Each bucket the commit changed (by series id), with what it held before. Made once
        the commit has made its changes (both the rows written and the index use it)."""
        if self._first_at != len(self.buckets):
            first: dict[tuple[int, BucketKey], tuple[Series, Bucket | None]] = {}
            for series, key, old in self.buckets:
                pair = (series.id, key)
                if pair not in first:
                    first[pair] = (series, old)
            self._first, self._first_at = first, len(self.buckets)
        return self._first

    def changed_periods(self) -> dict[tuple[int, PeriodKey], tuple[Series, float | None]]:
        """Each period sum the commit changed (by series id), with what it held before."""
        first: dict[tuple[int, PeriodKey], tuple[Series, float | None]] = {}
        for series, key, was in self.periods:
            pair = (series.id, key)
            if pair not in first:
                first[pair] = (series, was)
        return first

    def before(self, series: Series) -> Series:
        """A copy of `series` as it was before the commit (for the few the history compares)."""
        if self._index_at != (len(self.buckets), len(self.periods)):
            self._index.clear()
            for entry in self.buckets:
                self._index.setdefault(entry[0].id, ([], []))[0].append(entry)
            for change in self.periods:
                self._index.setdefault(change[0].id, ([], []))[1].append(change)
            self._index_at = (len(self.buckets), len(self.periods))
        copy = series.copy()
        buckets, periods = self._index.get(series.id, ([], []))
        for _, key, old in reversed(buckets):
            if old is None:
                copy.buckets.pop(key, None)
            else:
                copy.buckets[key] = old
        for _, period, was in reversed(periods):
            if was is None:
                copy.periods.pop(period, None)
            else:
                copy.periods[period] = was
        held = self.held.get(series.id)
        if held is not None:
            copy.base, copy.emitted, copy.sample = held[1], held[2], held[3]
        return copy
