"""The ledger's in-memory model: per target its families, series (each with its open buckets,
folded base and period sums), cursors and levels; and the arithmetic on one series."""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from sys import intern

from exporter.ledger.frozen import FrozenDict
from exporter.ledger.layout import NO_BUCKETS, BucketKey, Layout, layout_of, moved
from exporter.model import Family, Labels, Sample, month_start

PeriodKey = tuple[str, int]  # ("day" or "month", period start)
_new_sample = tuple.__new__
_created = functools.lru_cache(maxsize=1024)(float)  # origins repeat: one float each


class _NoPeriods(FrozenDict[PeriodKey, float]):
    __slots__ = ()
    why = "NO_PERIODS is shared: write to Series.own_periods()"


# The period sums of every series that has none. Most series keep none
# (`TargetState.with_periods`), and an empty dict each is 80 bytes a series; a series gets its
# own dict when a sum is first written (`Series.own_periods`).
NO_PERIODS: dict[PeriodKey, float] = _NoPeriods()


@dataclass(slots=True, eq=False)
class Series:
    """One counter series. Its numbers (base, counter, each open bucket's end and value) sit in
    one array of doubles and a commit changes them in place: a float or a tuple made anew per
    series by every poll would outlive the poll among its short-lived objects and pin the
    allocator's arenas they share (bench/RESULTS.md, round three). Compared and hashed by
    identity: the index of open buckets (`TargetState.by_stream`) holds the series themselves.

    `nums` is [base, emitted, end, value, end, value, ...]; `open` maps each open bucket to
    where its end sits (its value follows): a `Layout` shared with the series that have the same
    mapping (exporter/ledger/layout.py), or beyond a few buckets a dict of its own. A dropped
    bucket's place is left unused unless no used place follows it (`open` no longer points to
    it); the unused places are squeezed out when they outnumber the open buckets. Ends are Unix
    seconds, exact as doubles."""

    id: int
    family: str
    labels: Labels
    origin: int
    nums: array[float]
    open: dict[BucketKey, int] = field(default_factory=lambda: NO_BUCKETS)
    periods: dict[PeriodKey, float] = field(default_factory=lambda: NO_PERIODS)

    @classmethod
    def new(
        cls,
        sid: int,
        family: str,
        labels: Labels,
        origin: int,
        base: float,
        emitted: float,
        room: int = 0,
    ) -> Series:
        """A series with room in its array for `room` open buckets (`new_nums`)."""
        nums = new_nums(room)
        nums[0], nums[1] = base, emitted
        return cls(sid, family, labels, origin, nums)

    @property
    def base(self) -> float:
        """What the settled buckets sum to."""
        return self.nums[0]

    @base.setter
    def base(self, value: float) -> None:
        self.nums[0] = value

    @property
    def emitted(self) -> float:
        """The counter as exported: the true sum, or a peak above it (a bucket fell)."""
        return self.nums[1]

    @emitted.setter
    def emitted(self, value: float) -> None:
        self.nums[1] = value

    @property
    def buckets(self) -> Mapping[BucketKey, tuple[int, float]]:
        """The open buckets, (end, value) each: a copy, to read (`set_bucket` changes one)."""
        nums = self.nums
        return {key: (int(nums[at]), nums[at + 1]) for key, at in self.open.items()}

    def bucket(self, key: BucketKey) -> tuple[int, float] | None:
        """The open bucket `key`'s (end, value), or None."""
        at = self.open.get(key)
        return None if at is None else (int(self.nums[at]), self.nums[at + 1])

    def set_bucket(self, key: BucketKey, end: int, value: float) -> None:
        """Open the bucket `key`, or change it in place."""
        nums = self.nums
        at = self.open.get(key)
        if at is not None:
            nums[at] = end
            nums[at + 1] = value
            return
        at = len(nums)
        nums.append(end)
        nums.append(value)
        open_ = self.open
        if type(open_) is Layout:
            self.open = moved(open_, key, at)
        else:
            open_[key] = at

    def drop_bucket(self, key: BucketKey) -> tuple[int, float]:
        """Close the open bucket `key` (settled, or read as 0): its (end, value)."""
        open_ = self.open
        at = open_[key]
        nums = self.nums
        old = (int(nums[at]), nums[at + 1])
        if type(open_) is Layout:
            self.open = open_ = moved(open_, key, None)
            # no unused place at the end: the series that share a layout share its length
            del nums[max(open_.values(), default=0) + 2 if open_ else 2 :]
        else:
            del open_[key]
            if at == len(nums) - 2:
                del nums[at:]
        if not open_:
            del nums[2:]
        elif len(nums) > 4 * len(open_) + 2:  # more unused places than buckets: squeeze
            kept = [(key, nums[at], nums[at + 1]) for key, at in open_.items()]
            del nums[2:]
            places = []
            for key, end, value in kept:
                places.append((key, len(nums)))
                nums.append(end)
                nums.append(value)
            self.open = layout_of(tuple(places))
        return old

    def restore_bucket(self, key: BucketKey, old: tuple[int, float] | None) -> None:
        """The bucket `key` back to `old` (None: not open)."""
        if old is None:
            if key in self.open:
                self.drop_bucket(key)
        else:
            self.set_bucket(key, *old)

    def bucket_values(self) -> list[float]:
        nums = self.nums
        return [nums[at + 1] for at in self.open.values()]

    def make_sample(self) -> Sample:
        """The counter's sample, made for each rendering and not kept: one kept per series
        would be made anew after every poll that changes it, and pin an arena (the renderer
        keeps what it compares in arrays per chunk)."""
        # tuple.__new__ skips the named tuple's Python-level constructor: half the cost
        return _new_sample(Sample, (self.labels, self.nums[1], _created(self.origin)))

    def own_periods(self) -> dict[PeriodKey, float]:
        """The series' period sums, to write to: its own dict, made on the first write."""
        if self.periods is NO_PERIODS:
            self.periods = {}
        return self.periods

    def copy(self) -> Series:
        # Spelled out: dataclasses.replace costs several times more (`Journal.befores`: once per
        # history series a commit changes).
        return Series(
            self.id,
            self.family,
            self.labels,
            self.origin,
            array("d", self.nums),
            self.open if type(self.open) is Layout else dict(self.open),
            dict(self.periods),
        )

    def true_sum(self) -> float:
        return math.fsum([self.nums[0], *self.bucket_values()])


ZEROS = array("d", (0.0, 0.0))  # a new series' base and counter


def new_nums(buckets: int) -> array[float]:
    """A new series' numbers (base and counter 0) in one buffer with room for `buckets` open
    buckets, which `set_bucket` appends without growing it: a grown array leaves its old buffer
    freed among the series' objects, and holds room it may never use. (CPython keeps an array's
    buffer when it shrinks by fewer than 16 items; beyond 7 buckets it grows as it goes.)"""
    nums = ZEROS * (1 + min(buckets, 7))
    del nums[2:]
    return nums


def kept_labels(labels: Labels) -> Labels:
    """A new series' label values, as it keeps them: interned (values repeat across series:
    projects, models), and a value seen for the first time copied. The one read was made among
    the parser's short-lived objects (a response's JSON), and kept, it would pin the arena it
    shares with them once they are freed: 30 MB at 100k series (bench/RESULTS.md, round
    three)."""
    return tuple([intern("".join((value, ""))) for value in labels])


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
        for bucket in series.open:
            self.opened(series, bucket)

    def unindex(self, series: Series) -> None:
        """Take `series`' open buckets out of `by_stream` and `open_buckets`."""
        for bucket in series.open:
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
                        series.nums,
                        series.open,
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
