"""The bucket ledger: exact, monotonic, restart-safe counters from revisable bucket totals.

Per series and bucket it keeps the latest value the upstream reported; a counter is the sum of
those (plus the folded `base` of settled buckets), never allowed to go down. Everything lives in
memory for fast snapshots and in SQLite for restarts; a commit is one SQLite transaction and the
memory is only changed once that transaction is durable. It knows nothing of vendors and must
never silently reset: an unreadable or foreign state file is an error.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import operator
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from exporter import __version__
from exporter.model import (
    Family,
    FamilySamples,
    Kind,
    Labels,
    Period,
    Sample,
    Stream,
    StreamRead,
    align_down,
    align_up,
    bound_labels,
    month_start,
)

log = logging.getLogger(__name__)

APPLICATION_ID = 0x55534558  # "USEX"
_WRITER = f"usage-exporter {__version__}"


def _add_meta(db: sqlite3.Connection) -> None:
    """2 (0.2.0): a `meta` table saying which exporter version created and last wrote the
    file, so a newer file can be refused with the version that wrote it."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta (key, value) VALUES ('created_by', 'schema 1 (0.1.x)')")


def _add_charges(db: sqlite3.Connection) -> None:
    """3 (0.3.0): `charges`, the daily history of the families declared with `history`: per
    series and UTC day, the amount booked in each billing period (UTC month) it was observed in.
    Keyed by period first, so a month is one range to read and retention one range to delete.
    Filled from the day sums a file already holds when a history family is first declared."""
    db.execute(
        "CREATE TABLE charges (period INTEGER NOT NULL, series_id INTEGER NOT NULL, "
        "day INTEGER NOT NULL, amount REAL NOT NULL, PRIMARY KEY (period, series_id, day)) "
        "WITHOUT ROWID"
    )


# Schema migrations: MIGRATIONS[n] turns schema n - 1 into n. Each runs in one transaction
# with `PRAGMA user_version = n`, after a backup copy of the file is written next to it.
# A released migration is never edited; a change to the schema is a new number.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    2: _add_meta,
    3: _add_charges,
}
SCHEMA_VERSION = max(MIGRATIONS)
OVERFLOW = "__overflow__"

_SCHEMA = """
CREATE TABLE series (
  id INTEGER PRIMARY KEY, target TEXT NOT NULL, family TEXT NOT NULL, labels TEXT NOT NULL,
  origin INTEGER NOT NULL, base REAL NOT NULL, emitted REAL NOT NULL,
  UNIQUE (target, family, labels));
CREATE TABLE buckets (
  series_id INTEGER NOT NULL, stream TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  value REAL NOT NULL, PRIMARY KEY (series_id, stream, start));
CREATE TABLE periods (
  series_id INTEGER NOT NULL, kind TEXT NOT NULL, start INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (series_id, kind, start));
CREATE TABLE cursors (
  target TEXT NOT NULL, stream TEXT NOT NULL, cursor INTEGER NOT NULL, origin INTEGER NOT NULL,
  width INTEGER NOT NULL, PRIMARY KEY (target, stream));
CREATE TABLE levels (
  target TEXT NOT NULL, stream TEXT NOT NULL, family TEXT NOT NULL, labels TEXT NOT NULL,
  value REAL NOT NULL, PRIMARY KEY (target, stream, family, labels));
"""


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


class LedgerError(Exception):
    """The state file is corrupt, foreign or unwritable: a clear message, never a silent reset."""


@dataclass(frozen=True, slots=True)
class CommitStats:
    revisions_up: int = 0
    revisions_down: int = 0
    ignored_flows: int = 0
    overflowed: int = 0
    series: int = 0


BucketKey = tuple[str, int]  # (stream, bucket start)
_second = operator.itemgetter(1)
_new_sample = tuple.__new__
_created = functools.lru_cache(maxsize=1024)(float)  # origins repeat: one float each


@dataclass(slots=True)
class _Series:
    id: int
    family: str
    labels: Labels
    origin: int
    base: float
    emitted: float
    buckets: dict[BucketKey, tuple[int, float]] = field(default_factory=dict)
    periods: dict[tuple[str, int], float] = field(default_factory=dict)
    # The counter's sample, made on the first render after the series was published (a
    # published series never changes): later renders reuse it, and so does a copy whose
    # `emitted` the commit leaves as it was (the only field of a sample that can change).
    sample: Sample | None = None

    def make_sample(self) -> Sample:
        # tuple.__new__ skips the named tuple's Python-level constructor: half the cost, and a
        # render after a busy poll makes one per series.
        created = _created(self.origin)
        sample = self.sample = _new_sample(Sample, (self.labels, self.emitted, created))
        return sample

    def copy(self) -> _Series:
        # Spelled out: dataclasses.replace costs several times more, once per touched series.
        return _Series(
            self.id,
            self.family,
            self.labels,
            self.origin,
            self.base,
            self.emitted,
            dict(self.buckets),
            dict(self.periods),
            self.sample,  # valid while `emitted` stays: commit drops it when that changes
        )

    def true_sum(self) -> float:
        return math.fsum([self.base, *map(_second, self.buckets.values())])


@dataclass(slots=True)
class _Cursor:
    cursor: int
    origin: int
    width: int


@dataclass
class _Target:
    families: dict[str, Family] = field(default_factory=dict)
    series: dict[str, dict[Labels, _Series]] = field(default_factory=dict)
    cursors: dict[str, _Cursor] = field(default_factory=dict)
    levels: dict[str, dict[tuple[str, Labels], float]] = field(default_factory=dict)
    # stream -> the series with open buckets of that stream: commits touch only those
    by_stream: dict[str, set[tuple[str, Labels]]] = field(default_factory=dict)
    # stream -> no open bucket of it ends before this (a bound, kept by commits): a poll whose
    # cursor is below it settles nothing, and skips looking at every series of the stream
    earliest: dict[str, int] = field(default_factory=dict)
    limit: int = 0  # series per family; 0: the ledger's default

    def index(self, series: _Series, before: _Series | None) -> None:
        """Keep `by_stream` right after `series` replaced `before`."""
        if before is not None and before.buckets.keys() == series.buckets.keys():
            return  # same buckets, so the same streams
        key = (series.family, series.labels)
        old = {k[0] for k in before.buckets} if before is not None else set()
        new = {k[0] for k in series.buckets}
        for stream in old - new:
            self.by_stream.get(stream, set()).discard(key)
        for stream in new:
            self.by_stream.setdefault(stream, set()).add(key)


def _day_start(t: int) -> int:
    return t - t % 86400


def _previous_month_start(t: int) -> int:
    return month_start(month_start(t) - 1)


def _fold(series: _Series, key: BucketKey) -> None:
    """Move a settled bucket into the series' base and its day and month period sums."""
    _, value = series.buckets.pop(key)
    start = key[1]
    series.base = math.fsum([series.base, value])
    for kind, period_start in (("day", _day_start(start)), ("month", month_start(start))):
        series.periods[(kind, period_start)] = math.fsum(
            [series.periods.get((kind, period_start), 0.0), value]
        )


def _labels_json(labels: Labels) -> str:
    """`json.dumps(labels)`, byte for byte, without building an encoder per call."""
    return "[" + ", ".join(map(encode_basestring_ascii, labels)) + "]"


def _prune_periods(series: _Series, oldest: int) -> None:
    """Drop day and month sums that start before `oldest` (the previous month's start), but not
    those of a day that still has open buckets (a lookback longer than a month): its day value
    is its settled sum plus those buckets."""
    if series.buckets:
        oldest = min(oldest, _day_start(min(b for _, b in series.buckets)))
    for key in [k for k in series.periods if k[1] < oldest]:
        del series.periods[key]


def _day_values(series: _Series, days: Iterable[int]) -> dict[int, float]:
    """What the series counted in each UTC day of `days` (day starts): its settled day sum and
    the open buckets that start in that day. One pass over the open buckets (minute buckets
    with a month's lookback are 43,200 of them)."""
    parts: dict[int, list[float]] = {}
    for day in days:
        settled = series.periods.get(("day", day))
        parts[day] = [settled] if settled is not None else []
    for (_, start), (_, value) in series.buckets.items():
        found = parts.get(start - start % 86400)
        if found is not None:
            found.append(value)
    return {day: math.fsum(values) for day, values in parts.items()}


def months_before(t: int, count: int) -> int:
    """The start of the UTC month `count` months before the one containing `t`."""
    start = month_start(t)
    for _ in range(count):
        start = _previous_month_start(start)
    return start


def _months(first: int, last: int) -> list[int]:
    """The starts of the UTC months from the one starting at `first` to `last` (inclusive)."""
    out = [first]
    while out[-1] < last:
        out.append(month_start(out[-1] + 32 * 86400))
    return out


def _pad_stored_labels(state: _Target) -> None:
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
            padded: dict[Labels, _Series] = {}
            for labels, series in stored.items():
                if len(labels) < width:
                    for keys in state.by_stream.values():
                        keys.discard((name, labels))
                    labels = labels + ("",) * (width - len(labels))
                    series = _Series(
                        series.id,
                        name,
                        labels,
                        series.origin,
                        series.base,
                        series.emitted,
                        series.buckets,
                        series.periods,
                    )
                    state.index(series, None)
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


def _period_start(period: Period, t: int) -> int:
    return _day_start(t) if period is Period.DAY else month_start(t)


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
        self._pruned_before = 0  # `charges` holds no period before this
        self._clock = clock
        # Held by every method that writes: the daemon commits in a worker thread.
        self._lock = threading.RLock()
        self._targets: dict[str, _Target] = {}
        self._next_id = 1
        self._db = self._open()
        self._load()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    # -- opening -------------------------------------------------------------------------------

    def backup_path(self, version: int) -> Path:
        """Where the copy of a schema-`version` file is kept before it is migrated."""
        return self.path.with_name(f"{self.path.name}.schema-{version}.backup")

    def _refuse_newer(self) -> None:
        """A file of a newer schema is refused before SQLite opens it for writing (which could
        change it): read the header, then the writer's version through an immutable handle."""
        try:
            with self.path.open("rb") as handle:
                header = handle.read(100)
        except FileNotFoundError:
            return
        except OSError as err:
            raise LedgerError(f"{self.path}: cannot read the state file: {err.strerror}") from None
        if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
            return  # not SQLite (or empty): the checks below say so
        version = int.from_bytes(header[60:64], "big")
        app_id = int.from_bytes(header[68:72], "big")
        if app_id != APPLICATION_ID or version <= SCHEMA_VERSION:
            return
        writer = "a newer usage-exporter"
        with contextlib.suppress(sqlite3.Error):
            uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
            ro = sqlite3.connect(uri, uri=True)
            try:
                row = ro.execute("SELECT value FROM meta WHERE key='written_by'").fetchone()
                if row:
                    writer = str(row[0])
            finally:
                ro.close()
        raise LedgerError(
            f"{self.path}: state schema version {version}, written by {writer}; this is "
            f"usage-exporter {__version__}, which reads schema {SCHEMA_VERSION} and older. "
            "The file is left untouched: run that version (or newer), or restore the backup "
            f"it wrote before migrating ({self.path.name}.schema-<N>.backup)"
        )

    def _migrate(self, db: sqlite3.Connection, version: int) -> None:
        """Back the file up, then apply each migration after `version` in its own transaction.
        Interrupted (SIGKILL, power loss), the file is at the last committed version and the
        next start goes on from there."""
        backup = self.backup_path(version)
        partial = backup.with_name(backup.name + ".partial")
        try:
            copy = sqlite3.connect(partial)
            try:
                db.backup(copy)
            finally:
                copy.close()
            with partial.open("rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, backup)
        except (sqlite3.Error, OSError) as err:
            raise LedgerError(
                f"{self.path}: cannot write the backup {backup.name} before migrating the "
                f"state from schema {version} to {SCHEMA_VERSION}: {err}; nothing was changed"
            ) from None
        for number in range(version + 1, SCHEMA_VERSION + 1):
            try:
                db.execute("BEGIN IMMEDIATE")
                MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version={number}")
                db.execute("COMMIT")
            except sqlite3.Error as err:
                self._rollback_on(db)
                raise LedgerError(
                    f"{self.path}: migrating the state to schema {number} failed: {err}; the "
                    f"file is at schema {number - 1} (backup: {backup.name})"
                ) from None
        log.info(
            "state file migrated",
            extra={
                "file": str(self.path),
                "from_schema": version,
                "to_schema": SCHEMA_VERSION,
                "backup": str(backup),
            },
        )

    @staticmethod
    def _rollback_on(db: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")

    def _open(self) -> sqlite3.Connection:
        self._refuse_newer()
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise LedgerError(f"{self.path}: not a usage-exporter state file ({err})") from None
        if app_id == 0 and tables == 0:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                for number in range(2, SCHEMA_VERSION + 1):
                    MIGRATIONS[number](db)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("REPLACE INTO meta (key, value) VALUES ('created_by', ?)", (_WRITER,))
                db.execute("COMMIT")
            except sqlite3.Error as err:
                self._rollback_on(db)
                raise LedgerError(f"{self.path}: cannot create the state file: {err}") from None
        elif app_id != APPLICATION_ID:
            raise LedgerError(
                f"{self.path}: this SQLite file does not belong to usage-exporter "
                "(application_id differs); refusing to touch it"
            )
        elif version < 1 or version > SCHEMA_VERSION:  # (newer: refused above, unless in WAL)
            raise LedgerError(
                f"{self.path}: state schema version {version}, this version reads 1 to "
                f"{SCHEMA_VERSION}; refusing to guess"
            )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot open the state file: {err}") from None
        if integrity != "ok":
            raise LedgerError(f"{self.path}: state file is corrupt ({integrity})")
        if app_id == APPLICATION_ID and version < SCHEMA_VERSION:
            try:
                self._migrate(db, version)
            except LedgerError:
                db.close()
                raise
        try:
            row = db.execute("SELECT value FROM meta WHERE key='written_by'").fetchone()
            if row is None or row[0] != _WRITER:
                db.execute("REPLACE INTO meta (key, value) VALUES ('written_by', ?)", (_WRITER,))
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot open the state file: {err}") from None
        return db

    def _target(self, name: str) -> _Target:
        return self._targets.setdefault(name, _Target())

    def _load(self) -> None:
        by_id: dict[int, _Series] = {}
        try:
            rows = self._db.execute(
                "SELECT id, target, family, labels, origin, base, emitted FROM series ORDER BY id"
            ).fetchall()
            for sid, target, family, labels, origin, base, emitted in rows:
                # Interned: values repeat across series (projects, models); JSON makes copies.
                values = tuple(map(sys.intern, json.loads(labels)))
                series = _Series(sid, family, values, origin, base, emitted)
                by_id[sid] = series
                self._target(target).series.setdefault(family, {})[series.labels] = series
                self._next_id = max(self._next_id, sid + 1)
            for sid, stream, start, end, value in self._db.execute(
                "SELECT series_id, stream, start, end, value FROM buckets"
            ):
                by_id[sid].buckets[(stream, start)] = (end, value)
            for sid, kind, start, value in self._db.execute(
                "SELECT series_id, kind, start, value FROM periods"
            ):
                by_id[sid].periods[(kind, start)] = value
            for state in self._targets.values():
                for series_map in state.series.values():
                    for series in series_map.values():
                        state.index(series, None)
            for target, stream, cursor, origin, width in self._db.execute(
                "SELECT target, stream, cursor, origin, width FROM cursors"
            ):
                self._target(target).cursors[stream] = _Cursor(cursor, origin, width)
            for target, stream, family, labels, value in self._db.execute(
                "SELECT target, stream, family, labels, value FROM levels"
            ):
                levels = self._target(target).levels.setdefault(stream, {})
                levels[(family, tuple(json.loads(labels)))] = value
        except (sqlite3.Error, KeyError, ValueError) as err:
            raise LedgerError(f"{self.path}: state file is inconsistent: {err}") from None

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
        state.families = {f.name: f for f in families}
        state.limit = max_series_per_family or self.max_series_per_family
        for family in families:
            state.series.setdefault(family.name, {})
        _pad_stored_labels(state)
        self._seed_history(target, state)

    def _seed_history(self, target: str, state: _Target) -> None:
        """A history family seen for the first time in this file (a state file of an older
        schema, or a family that gained `history`): its days that the file still knows (the
        day sums of this month and the last, open buckets) become its first charges, each in
        its own month. Done once per target and family (a `meta` mark)."""
        now = int(self._clock())
        for family in state.families.values():
            if not family.history:
                continue
            mark = f"history_seeded:{target}:{family.name}"
            try:
                if self._db.execute("SELECT 1 FROM meta WHERE key=?", (mark,)).fetchone():
                    continue
                rows: list[tuple[int, int, int, float]] = []
                for series in state.series.get(family.name, {}).values():
                    days = {d for (kind, d) in series.periods if kind == "day"}
                    days |= {_day_start(b) for _, b in series.buckets}
                    for day, value in sorted(_day_values(series, days).items()):
                        if value != 0.0 and day <= now:
                            rows.append((month_start(day), series.id, day, value))
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT OR IGNORE INTO charges (period, series_id, day, amount) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("REPLACE INTO meta (key, value) VALUES (?, ?)", (mark, "1"))
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                self._rollback()
                raise LedgerError(f"{self.path}: cannot save state: {err}") from None

    def cursor(self, target: str, stream: str) -> int | None:
        """Where the stream's next read starts (`exporter.windows` plans it): the end of what
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
        """The target's samples. Safe from another thread while the loop commits: a commit
        publishes new `_Series` objects and never changes a published one, and each dict is
        copied (atomically, under the GIL) before it is read."""
        state = self._target(target)
        now = int(self._clock())
        out: list[FamilySamples] = []
        for family in list(state.families.values()):
            out.append(FamilySamples(family, target, self._family_samples(state, family, now)))
        return out

    def _family_samples(self, state: _Target, family: Family, now: int) -> list[Sample]:
        if family.kind is Kind.COUNTER:
            series = state.series.get(family.name, {})
            # In creation order (stable across restarts: loaded by id), not sorted: sorting
            # 100k label tuples on every render costs more than the rest of this method.
            return [s.sample or s.make_sample() for s in list(series.values())]
        if family.sums and family.period is not None:
            start = _period_start(family.period, now)
            series = state.series.get(family.sums, {})
            samples = []
            for labels, s in list(series.items()):
                settled = s.periods.get((family.period.value, start), 0.0)
                open_values = [v for (_, b), (_, v) in s.buckets.items() if b >= start]
                samples.append(Sample(labels, math.fsum([settled, *open_values])))
            return samples
        values: dict[Labels, float] = {}
        for levels in list(state.levels.values()):
            for (name, labels), value in list(levels.items()):
                if name == family.name:
                    values[labels] = values.get(labels, 0.0) + value
        return [Sample(labels, v) for labels, v in sorted(values.items())]

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
        state.levels.pop(stream, None)

    @_locked
    def settings(self, target: str) -> str | None:
        """What the caller recorded as the settings the target's series were counted with."""
        try:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key=?", (f"series_settings:{target}",)
            ).fetchone()
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot read state: {err}") from None
        return str(row[0]) if row else None

    @_locked
    def save_settings(self, target: str, value: str) -> None:
        try:
            self._db.execute(
                "REPLACE INTO meta (key, value) VALUES (?, ?)", (f"series_settings:{target}", value)
            )
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot save state: {err}") from None

    @_locked
    def hand_over(self, target: str, widths: dict[str, int]) -> None:
        """The target's series change (a reload changed its grouping or bucket width): settle
        every open bucket of each counter stream at the value last read, and move the stream's
        cursor to the next boundary of its new width (`widths`; a stream not in it keeps its
        own). The old series keep their values; what the new series count starts at the
        boundary, so no bucket is counted twice (late data for buckets before it is not
        counted). One transaction; memory changes once it is durable."""
        state = self._target(target)
        work = _Work(state, state.limit or self.max_series_per_family, self._next_id)
        cursors: dict[str, _Cursor] = {}
        for name, cursor in state.cursors.items():
            if cursor.width <= 0:
                continue
            width = widths.get(name) or cursor.width
            newest = cursor.cursor
            for family_name, labels in state.by_stream.get(name, set()):
                if family_name not in state.families:
                    continue
                series = state.series[family_name][labels]
                keys = [k for k in series.buckets if k[0] == name]
                if not keys:
                    continue
                newest = max([newest, *(series.buckets[k][0] for k in keys)])
                copy = work._series(state.families[family_name], labels, series.origin)
                for key in keys:
                    _fold(copy, key)
            cursors[name] = _Cursor(align_up(newest, width), cursor.origin, width)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._write_series(target, state, list(work.touched.values()), work.created)
            self._db.executemany(
                "INSERT OR REPLACE INTO cursors (target, stream, cursor, origin, width) "
                "VALUES (?, ?, ?, ?, ?)",
                [(target, s, c.cursor, c.origin, c.width) for s, c in cursors.items()],
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise LedgerError(f"{self.path}: cannot save state: {err}") from None
        for series in work.touched.values():
            family = state.series.setdefault(series.family, {})
            state.index(series, family.get(series.labels))
            family[series.labels] = series
        state.cursors.update(cursors)

    @_locked
    def close(self) -> None:
        self._db.close()

    # -- commit --------------------------------------------------------------------------------

    @_locked
    def commit(
        self, target: str, now: int, reads: Sequence[tuple[Stream, StreamRead]]
    ) -> CommitStats:
        """Apply every read in one transaction; memory changes only once it is durable."""
        state = self._target(target)
        work = _Work(state, state.limit or self.max_series_per_family, self._next_id)
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
                work.cursors[stream.name] = _Cursor(new, origin, stream.width)
                work.settle(stream.name, new)
        oldest_period = _previous_month_start(now)
        charges = self._charges(state, work, now)
        for series in work.touched.values():
            emitted = max(series.emitted, series.true_sum())
            if emitted != series.emitted:
                series.emitted = emitted
                series.sample = None
            if series.periods:
                _prune_periods(series, oldest_period)
        prune_before = months_before(now, self.history_months)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._write_series(target, state, list(work.touched.values()), work.created)
            self._db.executemany(
                "INSERT INTO charges (period, series_id, day, amount) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (period, series_id, day) DO UPDATE SET amount=excluded.amount",
                charges,
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO cursors (target, stream, cursor, origin, width) "
                "VALUES (?, ?, ?, ?, ?)",
                [(target, s, c.cursor, c.origin, c.width) for s, c in work.cursors.items()],
            )
            for stream_name, levels in work.new_levels.items():
                self._db.execute(
                    "DELETE FROM levels WHERE target=? AND stream=?", (target, stream_name)
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO levels (target, stream, family, labels, value) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(target, stream_name, f, json.dumps(lb), v) for (f, lb), v in levels.items()],
                )
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise LedgerError(f"{self.path}: cannot save state: {err}") from None
        for series in work.touched.values():
            family = state.series.setdefault(series.family, {})
            state.index(series, family.get(series.labels))
            family[series.labels] = series
        state.cursors.update(work.cursors)
        state.levels.update(work.new_levels)
        state.earliest.update(work.earliest)
        self._next_id = work.next_id
        if prune_before > self._pruned_before:
            self._prune_history(prune_before)
        count = sum(len(s) for s in state.series.values())
        count += sum(len(levels) for levels in state.levels.values())
        return CommitStats(work.up, work.down, work.ignored, work.overflowed, count)

    def _charges(self, state: _Target, work: _Work, now: int) -> list[tuple[int, int, int, float]]:
        """The `charges` rows (period, series, day, amount) of the days this commit changed.

        A day of the month being observed (or a day seen for the first time) is booked in its
        own month: the amount is the day's value. A day of a closed month that changes again is
        booked in the month it is observed in, as the difference to what earlier months booked
        (in decimal, from each float's shortest text, converted once): a closed month's rows
        never change."""
        observed = month_start(now)
        rows: list[tuple[int, int, int, float]] = []
        for key, days in work.days.items():
            series = work.touched[key]
            before = state.series.get(key[0], {}).get(key[1])
            values = _day_values(series, days)
            olds = _day_values(before, days) if before is not None else {}
            for day in sorted(days):
                value = values[day]
                if value == olds.get(day, 0.0):
                    continue
                own = month_start(day)
                if observed <= own:
                    rows.append((own, series.id, day, value))
                    continue
                booked = self._booked(series.id, day, _months(own, observed))
                if not booked:
                    rows.append((own, series.id, day, value))
                    continue
                # each float read as the shortest decimal that is it (the vendor's text)
                earlier = sum((Decimal(repr(a)) for p, a in booked if p != observed), Decimal(0))
                rows.append((observed, series.id, day, float(Decimal(repr(value)) - earlier)))
        return rows

    def _prune_history(self, before: int) -> None:
        """Drop the billing periods before `before` from the daily history, but not the rows of
        a day that can still change (a revision is booked as the difference to them). After
        the commit, with its cursors, in a statement of its own: it loses nothing if it fails."""
        revisable = self._revisable_from()
        try:
            self._db.execute(
                "DELETE FROM charges WHERE period < ? AND day < ?",
                (before, revisable if revisable is not None else before),
            )
        except sqlite3.Error as err:  # the commit is durable: try again at the next one
            log.warning(
                "daily cost history not pruned", extra={"file": str(self.path), "error": str(err)}
            )
            return
        self._pruned_before = before

    def _revisable_from(self) -> int | None:
        """The start of the oldest UTC day a commit may still change in a history family: the
        day of its oldest open bucket, or of a cursor of its target (a read starts there)."""
        oldest: int | None = None
        for state in self._targets.values():
            history = [n for n, f in state.families.items() if f.history]
            if not history:
                continue
            starts = [c.cursor for c in state.cursors.values() if c.width > 0]
            for name in history:
                for series in state.series.get(name, {}).values():
                    if series.buckets:
                        starts.append(min(b for _, b in series.buckets))
            if starts:
                day = _day_start(min(starts))
                oldest = day if oldest is None else min(oldest, day)
        return oldest

    def _booked(self, series_id: int, day: int, periods: Iterable[int]) -> list[tuple[int, float]]:
        try:
            return [
                (period, float(row[0]))
                for period in periods
                for row in self._db.execute(
                    "SELECT amount FROM charges WHERE period=? AND series_id=? AND day=?",
                    (period, series_id, day),
                )
            ]
        except sqlite3.Error as err:
            raise LedgerError(f"{self.path}: cannot read state: {err}") from None

    def _write_series(
        self, target: str, state: _Target, touched: Sequence[_Series], created: set[int]
    ) -> None:
        """Save `touched` series; those in `created` (ids) are new. Of an existing series only
        what differs from its published version (still in `state`) is written: a poll that
        raises one open bucket per series writes two rows per series, not a series' worth."""
        self._db.executemany(
            "INSERT INTO series (id, target, family, labels, origin, base, emitted) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (s.id, target, s.family, _labels_json(s.labels), s.origin, s.base, s.emitted)
                for s in touched
                if s.id in created
            ],
        )
        updated: list[tuple[float, float, int]] = []
        buckets: list[tuple[int, str, int, int, float]] = []
        gone_buckets: list[tuple[int, str, int]] = []
        periods: list[tuple[int, str, int, float]] = []
        gone_periods: list[tuple[int, str, int]] = []
        published, nothing = state.series, _Series(0, "", (), 0, 0.0, 0.0)
        for s in touched:
            sid = s.id
            if sid in created:
                before = nothing  # its series row is inserted above, with no buckets yet
            else:
                before = published[s.family][s.labels]
                if s.base != before.base or s.emitted != before.emitted:
                    updated.append((s.base, s.emitted, sid))
            if s.buckets != before.buckets:  # loops spelled out: a poll runs them per series
                for key, (end, value) in s.buckets.items():
                    if before.buckets.get(key) != (end, value):
                        buckets.append((sid, key[0], key[1], end, value))
                if not before.buckets.keys() <= s.buckets.keys():
                    for key in before.buckets.keys() - s.buckets.keys():
                        gone_buckets.append((sid, *key))
            if s.periods != before.periods:
                for key, value in s.periods.items():
                    if before.periods.get(key) != value:
                        periods.append((sid, key[0], key[1], value))
                if not before.periods.keys() <= s.periods.keys():
                    for key in before.periods.keys() - s.periods.keys():
                        gone_periods.append((sid, *key))
        self._db.executemany("UPDATE series SET base=?, emitted=? WHERE id=?", updated)
        self._db.executemany(
            "DELETE FROM buckets WHERE series_id=? AND stream=? AND start=?", gone_buckets
        )
        self._db.executemany(
            "INSERT INTO buckets (series_id, stream, start, end, value) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (series_id, stream, start) DO UPDATE SET end=excluded.end, "
            "value=excluded.value",
            buckets,
        )
        self._db.executemany(
            "DELETE FROM periods WHERE series_id=? AND kind=? AND start=?", gone_periods
        )
        self._db.executemany(
            "INSERT INTO periods (series_id, kind, start, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (series_id, kind, start) DO UPDATE SET value=excluded.value",
            periods,
        )

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")


class _Work:
    """The changes of one commit, computed on copies so a failure leaves memory untouched."""

    def __init__(self, state: _Target, limit: int, next_id: int) -> None:
        self.state = state
        self.limit = limit
        self.next_id = next_id
        self.touched: dict[tuple[str, Labels], _Series] = {}
        self.created: set[int] = set()  # ids of the touched series that are new
        self.cursors: dict[str, _Cursor] = {}
        self.new_levels: dict[str, dict[tuple[str, Labels], float]] = {}
        self.new_labels: dict[str, set[Labels]] = {}
        self.written: dict[str, set[tuple[str, Labels]]] = {}  # series each stream's read touched
        self.earliest: dict[str, int] = {}  # _Target.earliest once this commit is durable
        # history series -> the UTC days whose buckets this commit changed
        self.days: dict[tuple[str, Labels], set[int]] = {}
        self.up = self.down = self.ignored = self.overflowed = 0

    def _bounded(self, family: Family, labels: Labels) -> Labels:
        """The labels to store under, after the per-family cardinality limit."""
        existing = self.state.series.get(family.name, {})
        fresh = self.new_labels.setdefault(family.name, set())
        if labels in existing or labels in fresh:
            return labels
        if len(existing) + len(fresh) < self.limit:
            fresh.add(labels)
            return labels
        self.overflowed += 1
        return (OVERFLOW,) * len(family.labels)

    def _series(self, family: Family, labels: Labels, origin: int) -> _Series:
        key = (family.name, labels)
        series = self.touched.get(key)
        if series is not None:
            return series
        existing = self.state.series.get(family.name, {}).get(labels)
        if existing is not None:
            series = existing.copy()
        else:
            # Interned: values repeat across series (projects, models), as when loaded.
            labels = tuple(map(sys.intern, labels))
            series = _Series(self.next_id, family.name, labels, origin, 0.0, 0.0)
            self.created.add(series.id)
            self.next_id += 1
        self.touched[key] = series
        return series

    def flows(self, stream: Stream, read: StreamRead) -> None:
        cursor = self.state.cursors.get(stream.name)
        origin = cursor.origin if cursor is not None else read.start
        new: dict[tuple[str, Labels, int], tuple[int, float]] = {}
        families, stored = self.state.families, self.state.series
        for flow in read.flows:
            family = families.get(flow.family)
            labels = flow.labels
            if (
                family is None
                or family.kind is not Kind.COUNTER
                or flow.start < read.start
                or len(labels) != len(family.labels)
            ):
                self.ignored += 1
                continue
            if labels not in stored.get(family.name, ()):  # a stored key is bounded already
                labels = self._bounded(family, bound_labels(labels))
            key = (family.name, labels, flow.start)
            seen = new.get(key)
            if seen is None:
                new[key] = (flow.end, flow.value)
            else:
                new[key] = (max(seen[0], flow.end), math.fsum([seen[1], flow.value]))
        # Stored buckets of this stream inside the coverage that the read did not mention: now 0.
        for family_name, labels in self.state.by_stream.get(stream.name, ()):
            for (name, start), (end, _) in stored[family_name][labels].buckets.items():
                if name == stream.name and read.start <= start < read.end:
                    new.setdefault((family_name, labels, start), (end, 0.0))
        written = self.written.setdefault(stream.name, set())
        earliest = self.earliest.get(stream.name, self.state.earliest.get(stream.name))
        touched, name = self.touched, stream.name
        # One key and one end per bucket start, shared by every series (a poll of 100k series
        # of one hour made 100k equal tuples and ints)
        keys: dict[int, BucketKey] = {}
        ends: dict[int, int] = {}
        for (family_name, labels, start), (end, value) in new.items():
            series_key = (family_name, labels)
            series = touched.get(series_key) or self._series(families[family_name], labels, origin)
            written.add(series_key)
            bucket = keys.get(start) or keys.setdefault(start, (name, start))
            old = series.buckets.get(bucket)
            if old is not None:
                if value > old[1]:
                    self.up += 1
                elif value < old[1]:
                    self.down += 1
            elif value == 0.0:
                continue
            if value == 0.0:
                del series.buckets[bucket]
            else:
                series.buckets[bucket] = (ends.setdefault(end, end), value)
                if earliest is not None and end < earliest:
                    earliest = end
            if families[family_name].history and (old is None or old[1] != value):
                self.days.setdefault(series_key, set()).add(_day_start(start))
        if earliest is not None:
            self.earliest[stream.name] = earliest

    def settle(self, stream: str, cursor: int) -> None:
        """Fold every open bucket of `stream` that ends at or before `cursor`. Skipped when no
        open bucket can end that early (`_Target.earliest`); otherwise every series of the
        stream is looked at, and the bound is made exact again."""
        earliest = self.earliest.get(stream, self.state.earliest.get(stream))
        if earliest is not None and cursor < earliest:
            return
        remaining: int | None = None
        candidates = self.state.by_stream.get(stream, set()) | self.written.get(stream, set())
        for family_name, labels in candidates:
            key = (family_name, labels)
            current = self.touched.get(key) or self.state.series[family_name][labels]
            due = []
            for bucket, (end, _) in current.buckets.items():
                if bucket[0] == stream:
                    if end <= cursor:
                        due.append(bucket)
                    elif remaining is None or end < remaining:
                        remaining = end
            if not due:
                continue
            series = self._series(self.state.families[family_name], labels, current.origin)
            for bucket in due:
                _fold(series, bucket)
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
