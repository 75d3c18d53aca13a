"""The ledger's in-memory model: per target its families, series (each with its open buckets,
folded base and period sums), cursors and levels; and the arithmetic on one series."""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass, field

from exporter.model import Family, Labels, Sample, month_start

BucketKey = tuple[str, int]  # (stream, bucket start)
PeriodKey = tuple[str, int]  # ("day" or "month", period start)
_second = operator.itemgetter(1)
_new_sample = tuple.__new__
_created = functools.lru_cache(maxsize=1024)(float)  # origins repeat: one float each


class _NoPeriods(dict[PeriodKey, float]):
    """The period sums of every series that has none: one shared dict that refuses to change.
    Most series keep none (`TargetState.with_periods`), and an empty dict each is 80 bytes a
    series; a series gets its own dict when a sum is first written (`Series.own_periods`)."""

    def __setitem__(self, key: PeriodKey, value: float) -> None:
        raise TypeError("NO_PERIODS is shared: write to Series.own_periods()")

    def setdefault(self, key: PeriodKey, default: float | None = None) -> float:
        raise TypeError("NO_PERIODS is shared: write to Series.own_periods()")

    def update(self, *args: object, **kwargs: object) -> None:
        raise TypeError("NO_PERIODS is shared: write to Series.own_periods()")


NO_PERIODS: dict[PeriodKey, float] = _NoPeriods()


def _no_periods() -> dict[PeriodKey, float]:
    return NO_PERIODS


@dataclass(slots=True, eq=False)
class Series:
    """One counter series. Compared and hashed by identity: the index of open buckets
    (`TargetState.by_stream`) holds the series themselves, not a key tuple each (72 bytes a
    series)."""

    id: int
    family: str
    labels: Labels
    origin: int
    base: float
    emitted: float
    buckets: dict[BucketKey, tuple[int, float]] = field(default_factory=dict)
    periods: dict[PeriodKey, float] = field(default_factory=_no_periods)

    def make_sample(self) -> Sample:
        """The counter's sample, made for each rendering and not kept: one kept per series
        would be made anew after every poll that changes it, and pin an arena (the renderer
        keeps what it compares in arrays per chunk)."""
        # tuple.__new__ skips the named tuple's Python-level constructor: half the cost
        return _new_sample(Sample, (self.labels, self.emitted, _created(self.origin)))

    def own_periods(self) -> dict[PeriodKey, float]:
        """The series' period sums, to write to: its own dict, made on the first write."""
        if self.periods is NO_PERIODS:
            self.periods = {}
        return self.periods

    def copy(self) -> Series:
        # Spelled out: dataclasses.replace costs several times more, once per touched series.
        return Series(
            self.id,
            self.family,
            self.labels,
            self.origin,
            self.base,
            self.emitted,
            dict(self.buckets),
            dict(self.periods),
        )

    def true_sum(self) -> float:
        return math.fsum([self.base, *map(_second, self.buckets.values())])


@dataclass(slots=True)
class Cursor:
    cursor: int
    origin: int
    width: int


@dataclass
class TargetState:
    families: dict[str, Family] = field(default_factory=dict)
    series: dict[str, dict[Labels, Series]] = field(default_factory=dict)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    levels: dict[str, dict[tuple[str, Labels], float]] = field(default_factory=dict)
    # stream -> the series with open buckets of that stream: commits touch only those
    by_stream: dict[str, set[Series]] = field(default_factory=dict)
    # stream -> no open bucket of it ends before this (a bound, kept by commits): a poll whose
    # cursor is below it settles nothing, and skips looking at every series of the stream
    earliest: dict[str, int] = field(default_factory=dict)
    # stream -> bucket start -> how many series hold that open bucket: a read that mentions
    # every one of them leaves no stored bucket to fill with 0, and skips looking for one
    open_buckets: dict[str, dict[int, int]] = field(default_factory=dict)
    limit: int = 0  # series per family; 0: the ledger's default
    # The counter families whose settled buckets are also summed per UTC day and month: those a
    # gauge sums (cost today, month to date) and those with a daily history. Any other keeps
    # no period sums: a month on, they were about 43 per series, 4 KB of memory and 6 KB of
    # state file each (bench/RESULTS.md).
    with_periods: set[str] = field(default_factory=set)

    def index(self, series: Series) -> None:
        """Count `series`' open buckets in `by_stream` and `open_buckets` (a series loaded, or
        stored again under padded labels)."""
        for bucket in series.buckets:
            self.opened(series, bucket)

    def unindex(self, series: Series) -> None:
        """Take `series`' open buckets out of `by_stream` and `open_buckets`."""
        for bucket in series.buckets:
            self.closed(bucket)
            self.by_stream.get(bucket[0], set()).discard(series)

    def opened(self, series: Series, bucket: BucketKey) -> None:
        """`series` holds the open bucket `bucket`, which it did not hold before."""
        self.opened_by(bucket, [series])

    def opened_by(self, bucket: BucketKey, holders: list[Series]) -> None:
        """The series `holders` hold the open bucket `bucket`, which they did not hold before
        (a commit's new buckets, counted once per bucket)."""
        stream, start = bucket
        counts = self.open_buckets.setdefault(stream, {})
        counts[start] = counts.get(start, 0) + len(holders)
        self.by_stream.setdefault(stream, set()).update(holders)

    def closed(self, bucket: BucketKey) -> None:
        """A series no longer holds the open bucket `bucket`. Its place in `by_stream` is the
        caller's to take away: it may hold another bucket of the stream."""
        stream, start = bucket
        counts = self.open_buckets[stream]
        counts[start] -= 1
        if not counts[start]:
            del counts[start]


def day_start(t: int) -> int:
    return t - t % 86400


def previous_month_start(t: int) -> int:
    return month_start(month_start(t) - 1)


def pad_stored_labels(state: TargetState) -> None:
    """Series and levels stored before a label was added to their family read with it empty.

    A label is only ever added at the end of a family's label tuple, so a stored tuple shorter
    than the declared one is the same series with the new labels unset: its counter, buckets and
    periods carry on under the padded tuple. Only memory changes (the stored row keeps its id);
    a later version of the same family never stores both spellings, as the padded key is found
    before any new series is made."""
    for name, family in state.families.items():
        width = len(family.labels)
        stored = state.series.get(name, {})
        if any(len(labels) < width for labels in stored):
            padded: dict[Labels, Series] = {}
            for labels, series in stored.items():
                if len(labels) < width:
                    state.unindex(series)
                    labels = labels + ("",) * (width - len(labels))
                    series = Series(
                        series.id,
                        name,
                        labels,
                        series.origin,
                        series.base,
                        series.emitted,
                        series.buckets,
                        series.periods,
                    )
                    state.index(series)
                padded[labels] = series
            state.series[name] = padded
    for stream, levels in state.levels.items():
        if any(
            f in state.families and len(labels) < len(state.families[f].labels)
            for f, labels in levels
        ):
            state.levels[stream] = {
                (f, labels + ("",) * (len(state.families[f].labels) - len(labels)))
                if f in state.families
                else (f, labels): value
                for (f, labels), value in levels.items()
            }
