"""Saving a commit: the rows of what changed, written in the caller's transaction. Of an existing
series only what the commit changed (its journal) is written."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from itertools import chain
from json.encoder import encode_basestring_ascii
from typing import TypeVar

from exporter.ledger.commit import PendingCommit
from exporter.ledger.series import Cursor, Series
from exporter.model import Labels


def labels_json(labels: Labels) -> str:
    """`json.dumps(labels)`, byte for byte, without building an encoder per call."""
    return "[" + ", ".join(map(encode_basestring_ascii, labels)) + "]"


def write_series(db: sqlite3.Connection, target: str, work: PendingCommit) -> None:
    """Save what `work` changed: rows of its new series, and of the published ones only the
    buckets, period sums and scalars that it changed (its journal says which): a poll that
    raises one open bucket per series writes one row per series (its bucket), not a series'
    worth. Rows are handed to SQLite one at a time (generators, not lists): a list of 100k
    parameter tuples is 100k objects made at once, and the last 2000 freed of each size stay
    in the tuple free list, each pinning the arena it sits in (`bench.memory_stages`)."""
    new = [s for s in work.touched.values() if work.is_new(s)]
    db.executemany(
        "INSERT INTO series (id, target, family, labels, origin, base, emitted) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((s.id, target, s.family, labels_json(s.labels), s.origin, *s.nums[:2]) for s in new),
    )
    # The stored `emitted` is a lower bound (loading takes the larger of it and the true sum):
    # written with a changed base, or where the counter holds a peak above its true sum. A
    # poll that only raises buckets writes no series row.
    peaks = work.peaks
    db.executemany(
        "UPDATE series SET base=?, emitted=? WHERE id=?",
        (
            (s.base, s.emitted, s.id)
            for s, base, _ in work.journal.held.values()
            if s.base != base or s.id in peaks
        ),
    )
    changed, gone_buckets = _split(work.journal.buckets, Series.bucket)
    sums, gone_periods = _split(work.journal.periods, _period)
    # New series are not in the journal: all they hold is new
    buckets = chain(
        ((sid, key[0], key[1], end, value) for sid, key, (end, value) in changed),
        (
            (s.id, k[0], k[1], int(s.nums[at]), s.nums[at + 1])
            for s in new
            for k, at in s.open.items()
        ),
    )
    periods = chain(
        ((sid, key[0], key[1], value) for sid, key, value in sums),
        ((s.id, k[0], k[1], v) for s in new for k, v in s.periods.items()),
    )
    db.executemany("DELETE FROM buckets WHERE series_id=? AND stream=? AND start=?", gone_buckets)
    db.executemany(
        "INSERT INTO buckets (series_id, stream, start, end, value) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (series_id, stream, start) DO UPDATE SET end=excluded.end, "
        "value=excluded.value",
        buckets,
    )
    db.executemany("DELETE FROM periods WHERE series_id=? AND kind=? AND start=?", gone_periods)
    db.executemany(
        "INSERT INTO periods (series_id, kind, start, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (series_id, kind, start) DO UPDATE SET value=excluded.value",
        periods,
    )


_V = TypeVar("_V")


def _period(series: Series, key: tuple[str, int]) -> float | None:
    return series.periods.get(key)


def _split(
    changed: Mapping[tuple[int, tuple[str, int]], tuple[Series, _V | None]],
    held: Callable[[Series, tuple[str, int]], _V | None],
) -> tuple[list[tuple[int, tuple[str, int], _V]], list[tuple[int, str, int]]]:
    """Of each changed (series id, key) with what it held before: its value now (`held` gives
    it) where that differs (a row to write), or its key where it is gone (a row to delete)."""
    now: list[tuple[int, tuple[str, int], _V]] = []
    gone: list[tuple[int, str, int]] = []
    for (sid, key), (series, before) in changed.items():
        value = held(series, key)
        if value is None:
            if before is not None:
                gone.append((sid, *key))
        elif value != before:
            now.append((sid, key, value))
    return now, gone


def write_cursors(db: sqlite3.Connection, target: str, cursors: Mapping[str, Cursor]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO cursors (target, stream, cursor, origin, width) "
        "VALUES (?, ?, ?, ?, ?)",
        [(target, s, c.cursor, c.origin, c.width) for s, c in cursors.items()],
    )


def write_levels(
    db: sqlite3.Connection,
    target: str,
    new_levels: Mapping[str, Mapping[tuple[str, Labels], float]],
) -> None:
    """Each stream's levels replace what it stored."""
    for stream_name, levels in new_levels.items():
        db.execute("DELETE FROM levels WHERE target=? AND stream=?", (target, stream_name))
        db.executemany(
            "INSERT OR REPLACE INTO levels (target, stream, family, labels, value) "
            "VALUES (?, ?, ?, ?, ?)",
            [(target, stream_name, f, json.dumps(lb), v) for (f, lb), v in levels.items()],
        )
