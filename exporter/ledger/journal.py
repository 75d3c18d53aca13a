"""What a commit changed in the published series, which it changes in place: enough to undo it
(a failed transaction leaves memory as it was), to tell what a series held before (the daily
history compares days), and which rows to write (only what changed)."""

from __future__ import annotations

from exporter.ledger.series import BucketKey, PeriodKey, Series
from exporter.model import Sample

Bucket = tuple[int, float]  # (end, value)


class Journal:
    """The values before the commit of what it changed: one entry per changed bucket and period
    sum, the first change's (so undoing is putting each back, in any order)."""

    def __init__(self) -> None:
        # published series the commit changes -> (it, its base, emitted and sample before)
        self.held: dict[int, tuple[Series, float, float, Sample | None]] = {}
        # (series id, bucket) -> (the series, what the bucket held before the commit or None).
        # Written by the commit's loops directly: an entry already there is kept.
        self.buckets: dict[tuple[int, BucketKey], tuple[Series, Bucket | None]] = {}
        self.periods: dict[tuple[int, PeriodKey], tuple[Series, float | None]] = {}

    def hold(self, series: Series) -> None:
        """`series` (published) is about to change: keep its scalar fields."""
        self.held[series.id] = (series, series.base, series.emitted, series.sample)

    def undo(self) -> None:
        """Put every changed series back as it was."""
        for (_, key), (series, old) in self.buckets.items():
            if old is None:
                series.buckets.pop(key, None)
            else:
                series.buckets[key] = old
        for (_, period), (series, was) in self.periods.items():
            if was is None:
                series.periods.pop(period, None)
            else:
                series.periods[period] = was
        for series, base, emitted, sample in self.held.values():
            series.base, series.emitted, series.sample = base, emitted, sample

    def befores(self, wanted: list[Series]) -> dict[int, Series]:
        """Copies of `wanted` as they were before the commit, by id (for the series whose days
        the history compares; one pass over the journal for all of them)."""
        copies = {s.id: s.copy() for s in wanted}
        for (sid, key), (_, old) in self.buckets.items():
            copy = copies.get(sid)
            if copy is None:
                continue
            if old is None:
                copy.buckets.pop(key, None)
            else:
                copy.buckets[key] = old
        for (sid, period), (_, was) in self.periods.items():
            copy = copies.get(sid)
            if copy is None:
                continue
            if was is None:
                copy.periods.pop(period, None)
            else:
                copy.periods[period] = was
        for sid, copy in copies.items():
            held = self.held.get(sid)
            if held is not None:
                copy.base, copy.emitted, copy.sample = held[1], held[2], held[3]
        return copies
