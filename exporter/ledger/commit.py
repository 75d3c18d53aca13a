"""Commit arithmetic: what one commit changes (buckets read, buckets settled into a series' base,
levels replaced, label sets beyond the limit overflowed). Published series are changed in place
(no copy per poll), every change kept in a `Journal`: a failed transaction undoes them (a new
series is simply dropped), and the ledger's readers wait for the commit (`Ledger.samples`), so
none sees a state not durable."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.ledger.journal import Journal
from exporter.ledger.layout import BucketKey
from exporter.ledger.series import (
    Cursor,
    PeriodKey,
    Series,
    TargetState,
    day_start,
    kept_labels,
    new_nums,
)
from exporter.model import Kind, Labels, Stream, StreamRead, bound_labels, month_start

OVERFLOW = "__overflow__"


@dataclass(frozen=True, slots=True)
class CommitStats:
    revisions_up: int = 0
    revisions_down: int = 0
    ignored_flows: int = 0
    overflowed: int = 0
    series: int = 0


class PendingCommit:
    """The changes of one commit: made in place, journaled, undone if it fails (`undo`)."""

    def __init__(self, state: TargetState, limit: int, next_id: int) -> None:
        self.state = state
        self.limit = limit
        self.next_id = next_id
        # A series with an id from here on is new (`is_new`): the journal holds none of its
        # changes (a failed commit drops it whole; it is written and indexed whole when durable).
        self.first_new = next_id
        # the series this commit changes: published ones (changed in place) and new ones
        self.touched: dict[tuple[str, Labels], Series] = {}
        self.journal = Journal()
        self.cursors: dict[str, Cursor] = {}
        self.new_levels: dict[str, dict[tuple[str, Labels], float]] = {}
        self.new_labels: dict[str, set[Labels]] = {}
        # stream -> the series its reads gave a new open bucket (`by_stream` has the others)
        self.written: dict[str, set[Series]] = {}
        self.earliest: dict[str, int] = {}  # TargetState.earliest once this commit is durable
        # history series -> the UTC days whose buckets this commit changed
        self.days: dict[tuple[str, Labels], set[int]] = {}
        # history series read by their stream's very first read (a new target's backfill): a
        # day of theirs in a closed month was never seen before, and is booked in its month
        self.first_read: set[tuple[str, Labels]] = set()
        # touched series whose counter holds a peak above its true sum (a bucket fell): their
        # `emitted` is written; another's is the true sum, which loading computes (schema 4)
        self.peaks: set[int] = set()
        # bucket start -> its day's and its month's period keys (`fold`)
        self.period_keys: dict[int, tuple[PeriodKey, PeriodKey]] = {}
        self.up = self.down = self.ignored = self.overflowed = 0

    def is_new(self, series: Series) -> bool:
        """`series` is made by this commit (not published before it)."""
        return series.id >= self.first_new

    def touch(self, series: Series) -> Series:
        """`series` (published, or made by this commit) is changed by this commit: a published
        one is held in the journal the first time. New series are made by `_apply`."""
        key = (series.family, series.labels)
        touched = self.touched.get(key)
        if touched is not None:
            return touched
        self.journal.hold(series)
        self.touched[key] = series
        return series

    def fold(self, series: Series, key: BucketKey) -> None:
        """Move a settled bucket into the series' base, and into its day and month period sums
        when its family keeps them (`TargetState.with_periods`)."""
        old = series.drop_bucket(key)
        published = not self.is_new(series)
        if published:
            self.journal.buckets.setdefault((series.id, key), (series, old))
        value, start = old[1], key[1]
        series.base = math.fsum([series.base, value])
        if series.family not in self.state.with_periods:
            return
        periods, log = series.own_periods(), self.journal.periods
        pair = self.period_keys.get(start)
        if pair is None:  # one pair of keys per bucket start, shared by every series
            pair = self.period_keys[start] = (
                ("day", day_start(start)),
                ("month", month_start(start)),
            )
        for period in pair:
            was = periods.get(period)
            if published:
                log.setdefault((series.id, period), (series, was))
            periods[period] = math.fsum([was if was is not None else 0.0, value])

    def prune_periods(self, series: Series, oldest: int) -> None:
        """Drop day and month sums that start before `oldest` (the previous month's start), but
        not those of a day that still has open buckets (a lookback longer than a month): its
        day value is its settled sum plus those buckets."""
        if series.open:
            oldest = min(oldest, day_start(min(b for _, b in series.open)))
        log = self.journal.periods
        for key in [k for k in series.periods if k[1] < oldest]:
            was = series.periods.pop(key)
            if not self.is_new(series):
                log.setdefault((series.id, key), (series, was))

    def undo(self) -> None:
        """The transaction failed: the published series go back to what they were."""
        self.journal.undo()

    def publish(self) -> None:
        """The transaction is durable: the new series join the published ones, and the index of
        open buckets (`by_stream`, `open_buckets`) follows the buckets that came and went."""
        state = self.state
        gone: dict[int, tuple[Series, set[str]]] = {}
        opened: dict[BucketKey, list[Series]] = {}
        for (_, key), (series, old) in self.journal.buckets.items():
            held = key in series.open
            if held == (old is not None):
                continue
            if held:
                opened.setdefault(key, []).append(series)
            else:
                state.closed(key)
                gone.setdefault(series.id, (series, set()))[1].add(key[0])
        for series, streams in gone.values():
            streams -= {stream for stream, _ in series.open}
            for stream in streams:
                state.by_stream.get(stream, set()).discard(series)
        for series in self.touched.values():
            if self.is_new(series):
                state.series.setdefault(series.family, {})[series.labels] = series
                for key in series.open:
                    opened.setdefault(key, []).append(series)
        for key, holders in opened.items():  # (a bucket a series lost is counted down first)
            state.opened_by(key, holders)

    def flows(self, stream: Stream, read: StreamRead) -> None:
        cursor = self.state.cursors.get(stream.name)
        origin = cursor.origin if cursor is not None else read.start
        new: dict[tuple[str, Labels, int], tuple[int, float]] = {}
        families, stored = self.state.families, self.state.series
        # family name -> (its label count, its stored series, the label sets this commit adds
        # to it), or None for a name that is no counter of the target: looked up once per
        # read, not per flow
        counters: dict[str, tuple[int, dict[Labels, Series], set[Labels]] | None] = {}
        limit, put = self.limit, new.setdefault
        # a series no commit has stored -> the rows that name it (`_new_series`)
        born: dict[tuple[str, Labels], int] = {}
        for flow in read.flows:
            name, labels = flow.family, flow.labels
            if name in counters:
                counter = counters[name]
            else:
                family = families.get(name)
                counter = counters[name] = (
                    (
                        len(family.labels),
                        stored.get(name, {}),
                        self.new_labels.setdefault(name, set()),
                    )
                    if family is not None and family.kind is Kind.COUNTER
                    else None
                )
            if counter is None or flow.start < read.start or len(labels) != counter[0]:
                self.ignored += 1
                continue
            existing = counter[1]
            if labels not in existing:  # a stored key is bounded already
                # the labels to store under, after the per-family cardinality limit
                labels = bound_labels(labels)
                fresh = counter[2]
                if labels not in existing and labels not in fresh:
                    if len(existing) + len(fresh) < limit:
                        fresh.add(labels)
                    else:
                        self.overflowed += 1
                        labels = (OVERFLOW,) * counter[0]
                if labels not in existing:
                    series_key = (name, labels)
                    born[series_key] = born.get(series_key, 0) + 1
            key = (name, labels, flow.start)
            value = (flow.end, flow.value)
            seen = put(key, value)  # (one lookup: a key is rarely read twice)
            if seen is not value:
                new[key] = (max(seen[0], flow.end), math.fsum([seen[1], flow.value]))
        first = cursor is None
        again = stream.name in self.written  # the same stream read twice in one commit
        if born:
            self._new_series(born, origin)
        mentioned = self._apply(stream, new.items(), origin, first, read.start, read.end)
        # Stored buckets of this stream inside the coverage that the read did not mention: now
        # 0. Looked for only when the read did not mention every one (`open_buckets` counts).
        counts = self.state.open_buckets.get(stream.name, {})
        stored_in_coverage = sum(c for s, c in counts.items() if read.start <= s < read.end)
        if again or mentioned < stored_in_coverage:
            unmentioned: dict[tuple[str, Labels, int], tuple[int, float]] = {}
            for held in self.state.by_stream.get(stream.name, ()):
                family_name, labels, nums = held.family, held.labels, held.nums
                for (name, start), at in held.open.items():
                    key = (family_name, labels, start)
                    if name == stream.name and read.start <= start < read.end and key not in new:
                        unmentioned[key] = (int(nums[at]), 0.0)
            self._apply(stream, unmentioned.items(), origin, first, read.start, read.end)

    def _apply(
        self,
        stream: Stream,
        values: Iterable[tuple[tuple[str, Labels, int], tuple[int, float]]],
        origin: int,
        first: bool,
        start_at: int,
        end_at: int,
    ) -> int:
        """Set a read's bucket values (a 0 removes the bucket) on series stored or made by this
        commit (`_new_series`); how many of them replaced an open bucket inside the read's
        coverage."""
        families = self.state.families
        history = {n for n, f in families.items() if f.history}
        written = self.written.setdefault(stream.name, set())
        earliest = self.earliest.get(stream.name, self.state.earliest.get(stream.name))
        if earliest is None and not self.state.by_stream.get(stream.name):
            # No open bucket of the stream (a new one): the bound is the least end written, and
            # the stream's first settling need not look at every series it just made
            earliest = sys.maxsize
        touched, name = self.touched, stream.name
        mentioned = up = down = 0
        # One key per bucket start, shared by every series (a poll of 100k series of one hour
        # made 100k equal tuples)
        keys: dict[int, BucketKey] = {}
        log, held, stored = self.journal.buckets, self.journal.held, self.state.series
        first_new = self.first_new
        last_start, bucket = -1, (name, -1)
        # Loop spelled out (`touch`, `Journal.hold` and `is_new` inlined): it runs once per
        # changed row.
        for (family_name, labels, start), (end, value) in values:
            series_key = (family_name, labels)
            series = touched.get(series_key)
            if series is None:  # a stored series, first changed by this commit
                series = touched[series_key] = stored[family_name][labels]
                held[series.id] = (series, series.base, series.emitted)
            if start != last_start:  # (rows come grouped by bucket)
                bucket = keys.get(start) or keys.setdefault(start, (name, start))
                last_start = start
            # (`Series.bucket` and `set_bucket` inlined: the value changes in place)
            nums = series.nums
            at = series.open.get(bucket)
            old: tuple[int, float] | None = None
            if at is not None:
                old_value = nums[at + 1]
                if start_at <= start < end_at:
                    mentioned += 1
                if value > old_value:
                    up += 1
                elif value < old_value:
                    down += 1
                elif end == nums[at]:
                    continue  # unchanged
                old = (int(nums[at]), old_value)
            elif value == 0.0:
                continue
            else:
                # a new open bucket: one for `settle` to look at (a series that held one of
                # the stream before is in `by_stream`)
                written.add(series)
            if series.id < first_new:
                log.setdefault((series.id, bucket), (series, old))
            if value == 0.0:
                series.drop_bucket(bucket)
            else:
                if at is None:
                    series.set_bucket(bucket, end, value)
                else:
                    nums[at] = end
                    nums[at + 1] = value
                if earliest is not None and end < earliest:
                    earliest = end
            if family_name in history and (old is None or old[1] != value):
                self.days.setdefault(series_key, set()).add(day_start(start))
                if first:
                    self.first_read.add(series_key)
        if earliest is not None:
            self.earliest[stream.name] = earliest
        self.up += up
        self.down += down
        return mentioned

    def _new_series(self, born: dict[tuple[str, Labels], int], origin: int) -> None:
        """Make the series a read names that no commit has stored, nor this one made yet, in
        the order the read first names them, each array with room for a bucket per row: all in
        one burst, before the read's values are set. What a series is made of (itself, its
        labels, its array, its id) lives on; made among the commit's short-lived objects (keys,
        a grown array's old buffer) it would pin the allocator's arenas those leave when freed
        (bench/RESULTS.md, round three: memory)."""
        touched, next_id = self.touched, self.next_id
        for series_key, rows in born.items():
            if series_key not in touched:
                family_name, labels = series_key
                nums = new_nums(rows)
                touched[series_key] = Series(
                    next_id, family_name, kept_labels(labels), origin, nums
                )
                next_id += 1
        self.next_id = next_id

    def settle(self, stream: str, cursor: int) -> None:
        """Fold every open bucket of `stream` that ends at or before `cursor`. Skipped when no
        open bucket can end that early (`TargetState.earliest`); otherwise every series of the
        stream is looked at, and the bound is made exact again."""
        earliest = self.earliest.get(stream, self.state.earliest.get(stream))
        if earliest is not None and cursor < earliest:
            return
        remaining: int | None = None
        # (a published series is changed in place: the one in `by_stream` is the current one)
        candidates = self.state.by_stream.get(stream, set()) | self.written.get(stream, set())
        for current in candidates:
            due = []
            nums = current.nums
            for bucket, at in current.open.items():
                if bucket[0] == stream:
                    end = nums[at]
                    if end <= cursor:
                        due.append(bucket)
                    elif remaining is None or end < remaining:
                        remaining = int(end)
            if not due:
                continue
            series = self.touch(current)
            for bucket in due:
                self.fold(series, bucket)
        # No open bucket left: any bound is true; the cursor is one (new buckets end after it).
        self.earliest[stream] = remaining if remaining is not None else cursor + 1

    def levels(self, stream: Stream, read: StreamRead) -> None:
        """The read's levels replace the stream's; label sets beyond the limit overflow."""
        levels: dict[tuple[str, Labels], float] = {}
        # Label sets the other level streams of the target hold: the limit is per family.
        others: dict[str, set[Labels]] = {}
        for name, stored in {**self.state.levels, **self.new_levels}.items():
            if name != stream.name:
                for family_name, labels in stored:
                    others.setdefault(family_name, set()).add(labels)
        for level in read.levels:
            family = self.state.families.get(level.family)
            if (
                family is None
                or family.kind is not Kind.GAUGE
                or family.sums
                or len(level.labels) != len(family.labels)
            ):
                self.ignored += 1
                continue
            labels = bound_labels(level.labels)
            held = others.setdefault(family.name, set())
            if labels not in held:
                if len(held) >= self.limit:
                    self.overflowed += 1
                    labels = (OVERFLOW,) * len(family.labels)
                held.add(labels)
            key = (family.name, labels)
            levels[key] = math.fsum([levels.get(key, 0.0), level.value])
        self.new_levels[stream.name] = levels
