"""The `Ledger`: one state file's series, buckets, cursors and levels, as the daemon uses them.

It holds the locks (one writer at a time; readers wait while a commit changes series), the
in-memory model (`series.py`) and the open state file (`state_file.py`); a commit changes the
series in place, journaled (`commit.py`, `journal.py`), writes what changed in one SQLite
transaction (`persist.py`, `history.py`), and undoes its changes to memory if that fails.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from math import fsum
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from exporter.ledger import key_values, state_file
from exporter.ledger.commit import CommitStats, PendingCommit
from exporter.ledger.errors import LedgerError
from exporter.ledger.history import DailyHistory
from exporter.ledger.loading import load
from exporter.ledger.persist import write_cursors, write_levels, write_series
from exporter.ledger.read import family_samples
from exporter.ledger.series import (
    NO_PERIODS,
    Cursor,
    TargetState,
    pad_stored_labels,
    previous_month_start,
)
from exporter.model import (
    Family,
    FamilySamples,
    Stream,
    StreamRead,
    align_down,
    align_up,
    months_before,
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[Ledger, _P], _R]) -> Callable[Concatenate[Ledger, _P], _R]:
    """One writer at a time: the daemon commits in a worker thread, so a poll's commit does not
    hold the event loop (scrapes), and the loop's own writes wait for it."""

    def locked(self: Ledger, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    locked.__doc__ = method.__doc__
    return locked


class Ledger:
    """Series, buckets, cursors and levels of every target, persisted in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        max_series_per_family: int = 10_000,
        clock: Callable[[], float] = time.time,
        history_months: int = 13,
    ) -> None:
        self.path = Path(path)
        self.max_series_per_family = max_series_per_family
        # daily history (`charges`) is kept for the current month and this many before it
        self.history_months = history_months
        self._clock = clock
        # Held by every method that writes: the daemon commits in a worker thread.
        self._lock = threading.RLock()
        # Held by a commit while it changes the published series in place, and by `samples`:
        # a rendering (in a worker thread) reads one durable state, never a commit half done.
        self._published = threading.Lock()
        self._db = state_file.open_state(self.path)
        self._targets, self._next_id = load(self._db, self.path)
        self._history = DailyHistory(self._db, self.path)

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def backup_path(self, version: int) -> Path:
        """Where the copy of a schema-`version` file is kept before it is migrated."""
        return state_file.backup_path(self.path, version)

    def _target(self, name: str) -> TargetState:
        return self._targets.setdefault(name, TargetState())

    # -- public API ----------------------------------------------------------------------------

    @_locked
    def declare(
        self,
        target: str,
        families: Sequence[Family],
        max_series_per_family: int | None = None,
    ) -> None:
        """The target's families and its own series limit (default: the ledger's)."""
        state = self._target(target)
        with self._published:
            state.families = {f.name: f for f in families}
            state.limit = max_series_per_family or self.max_series_per_family
            state.with_periods = {f.sums for f in families if f.sums and f.period is not None}
            state.with_periods |= {f.name for f in families if f.history}
            for family in families:
                state.series.setdefault(family.name, {})
            self._drop_unused_periods(state)
            pad_stored_labels(state)
        self._history.seed(target, state, int(self._clock()))

    def _drop_unused_periods(self, state: TargetState) -> None:
        """Period sums of a family that keeps none (`TargetState.with_periods`), which an
        earlier version kept for every family, go from the file and from memory."""
        unused = [
            series
            for name, stored in state.series.items()
            if name not in state.with_periods
            for series in stored.values()
            if series.periods
        ]
        if not unused:
            return
        with state_file.transaction(self._db, self.path):
            self._db.executemany(
                "DELETE FROM periods WHERE series_id=?", [(series.id,) for series in unused]
            )
        for series in unused:
            series.periods = NO_PERIODS

    def cursor(self, target: str, stream: str) -> int | None:
        """Where the stream's next read starts (`exporter.daemon.windows` plans it): the end of what
        was settled, or a hand-over's boundary; None for a stream never committed."""
        cursor = self._target(target).cursors.get(stream)
        return cursor.cursor if cursor is not None else None

    def origins(self, target: str) -> dict[str, tuple[int, int]]:
        """Each stream's stored origin (where its counters began) and bucket width."""
        cursors = self._target(target).cursors
        return {name: (c.origin, c.width) for name, c in cursors.items() if c.width > 0}

    def watermark(self, target: str) -> int | None:
        cursors = [c.cursor for c in self._target(target).cursors.values() if c.width > 0]
        return min(cursors) if cursors else None

    def samples(self, target: str) -> list[FamilySamples]:
        """The target's samples. Safe from another thread while a commit runs: it waits for the
        commit to end (a commit changes series in place), so it reads one durable state."""
        state = self._target(target)
        now = int(self._clock())
        out: list[FamilySamples] = []
        with self._published:
            for family in list(state.families.values()):
                out.append(FamilySamples(family, target, family_samples(state, family, now)))
        return out

    @_locked
    def forget_levels(self, target: str, stream: str) -> None:
        """A stream the source no longer lists (a deleted bucket): its gauges go. Its counter
        buckets and its cursor stay: should it come back, reading on from the cursor counts
        nothing twice (forgetting the cursor would re-read it from the backfill origin)."""
        state = self._target(target)
        try:
            self._db.execute("DELETE FROM levels WHERE target=? AND stream=?", (target, stream))
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot save state: {err}") from None
        with self._published:  # (as every change a rendering could read)
            state.levels.pop(stream, None)

    @_locked
    def series_settings(self, target: str) -> str | None:
        """What the caller recorded as the settings the target's series were counted with."""
        return key_values.read_value(self._db, self.path, f"series_settings:{target}")

    @_locked
    def save_series_settings(self, target: str, value: str) -> None:
        key_values.save_value(self._db, self.path, f"series_settings:{target}", value)

    @_locked
    def hand_over(self, target: str, widths: dict[str, int]) -> None:
        """The target's series change (a reload changed its grouping or bucket width): settle
        every open bucket of each counter stream at the value last read, and move the stream's
        cursor to the next boundary of its new width (`widths`; a stream not in it keeps its
        own). The old series keep their values; what the new series count starts at the
        boundary, so no bucket is counted twice (late data for buckets before it is not
        counted). One transaction; undone in memory if it fails."""
        state = self._target(target)
        with self._published:
            work = PendingCommit(state, state.limit or self.max_series_per_family, self._next_id)
            cursors: dict[str, Cursor] = {}
            with self._undone_if_failed(work):
                for name, cursor in state.cursors.items():
                    if cursor.width <= 0:
                        continue
                    width = widths.get(name) or cursor.width
                    newest = cursor.cursor
                    for series in state.by_stream.get(name, set()):
                        if series.family not in state.families:
                            continue
                        keys = [k for k in series.open if k[0] == name]
                        if not keys:
                            continue
                        ends = (int(series.nums[series.open[k]]) for k in keys)
                        newest = max([newest, *ends])
                        touched = work.touch(series)
                        for key in keys:
                            work.fold(touched, key)
                    cursors[name] = Cursor(align_up(newest, width), cursor.origin, width)
                self._db.execute("BEGIN IMMEDIATE")
                write_series(self._db, target, work)
                write_cursors(self._db, target, cursors)
                self._db.execute("COMMIT")
            work.publish()
            state.cursors.update(cursors)

    @contextlib.contextmanager
    def _undone_if_failed(self, work: PendingCommit) -> Iterator[None]:
        """A commit changes the published series in place: if anything fails before its
        transaction is durable, the transaction is rolled back and memory is put back."""
        try:
            yield
        except BaseException as err:
            self._rollback()
            work.undo()
            if isinstance(err, sqlite3.Error):
                raise LedgerError(f"{self.path}: cannot save state: {err}") from None
            raise

    @_locked
    def close(self) -> None:
        self._db.close()

    # -- commit --------------------------------------------------------------------------------

    @_locked
    def commit(
        self, target: str, now: int, reads: Sequence[tuple[Stream, StreamRead]]
    ) -> CommitStats:
        """Apply every read in one transaction. The series change in place while the ledger's
        readers wait (`samples`); if the transaction fails, memory is put back as it was."""
        state = self._target(target)
        with self._published:
            work = PendingCommit(state, state.limit or self.max_series_per_family, self._next_id)
            with self._undone_if_failed(work):
                self._fold(state, work, now, reads)
                charges = self._history.charges(state, work, now)
                oldest_period = previous_month_start(now)
                peaks = work.peaks
                for series in work.touched.values():
                    # `Series.true_sum`, inlined: once per changed series (with one open bucket,
                    # one addition: IEEE rounds a sum of two exactly, as fsum does)
                    nums = series.nums
                    if len(series.open) == 1:
                        true_sum = nums[0] + nums[next(iter(series.open.values())) + 1]
                    else:
                        true_sum = fsum([nums[0], *series.bucket_values()])
                    emitted = max(nums[1], true_sum)
                    nums[1] = emitted  # (in place: no object outlives the poll)
                    if emitted != true_sum:
                        peaks.add(series.id)
                    if series.periods:
                        work.prune_periods(series, oldest_period)
                self._db.execute("BEGIN IMMEDIATE")
                write_series(self._db, target, work)
                self._db.executemany(
                    "INSERT INTO charges (period, series_id, day, amount) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (period, series_id, day) DO UPDATE SET amount=excluded.amount",
                    charges,
                )
                write_cursors(self._db, target, work.cursors)
                write_levels(self._db, target, work.new_levels)
                self._db.execute("COMMIT")
            work.publish()
            state.cursors.update(work.cursors)
            state.levels.update(work.new_levels)
            state.earliest.update(work.earliest)
            self._next_id = work.next_id
        prune_before = months_before(now, self.history_months)
        if prune_before > self._history.pruned_before:
            self._history.prune(self._targets, prune_before)
        count = sum(len(s) for s in state.series.values())
        count += sum(len(levels) for levels in state.levels.values())
        return CommitStats(work.up, work.down, work.ignored, work.overflowed, count)

    @staticmethod
    def _fold(
        state: TargetState,
        work: PendingCommit,
        now: int,
        reads: Sequence[tuple[Stream, StreamRead]],
    ) -> None:
        """The reads' flows and levels into `work`, and each stream's cursor moved and settled."""
        for stream, read in reads:
            if stream.width <= 0 or read.levels:
                work.levels(stream, read)
            if stream.width > 0:
                work.flows(stream, read)
                cursor = state.cursors.get(stream.name)
                old = cursor.cursor if cursor is not None else read.start
                origin = cursor.origin if cursor is not None else read.start
                settle = align_down(now - stream.lookback, stream.width)
                new = max(old, min(settle, read.end))
                work.cursors[stream.name] = Cursor(new, origin, stream.width)
                work.settle(stream.name, new)

    def _rollback(self) -> None:
        state_file.rollback(self._db)
