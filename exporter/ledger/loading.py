"""Loading a state file into the in-memory model, once, at start."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from exporter.ledger.errors import LedgerError
from exporter.ledger.series import Cursor, Series, TargetState


def load(db: sqlite3.Connection, path: Path) -> tuple[dict[str, TargetState], int]:
    """Every target's state, and the next free series id."""
    targets: dict[str, TargetState] = {}
    next_id = 1

    def target_state(name: str) -> TargetState:
        return targets.setdefault(name, TargetState())

    by_id: dict[int, Series] = {}
    # Every row of SQLite is new objects: a family name, an origin, a bucket's key and a
    # period's key repeat across series, and are kept once each (as a commit keeps them), or
    # a restart would hold a copy per series (about 400 bytes a series with settled periods).
    # (A bucket's end is no object: it goes into the series' array.)
    numbers: dict[int, int] = {}
    keys: dict[tuple[str, int], tuple[str, int]] = {}
    number, key_of = numbers.setdefault, keys.setdefault
    try:
        # Read row by row, not fetched whole: the rows of a million series are 300 MB of small
        # objects, and the series made among them would pin the allocator's arenas they share
        # (bench/RESULTS.md, round three). Each with its count of open buckets, so its array is
        # made with room for them, not grown (a grown array holds more, and leaves its old
        # buffer among the series' objects).
        rows = db.execute(
            "SELECT id, target, family, labels, origin, base, emitted, "
            "(SELECT count(*) FROM buckets WHERE series_id = series.id) FROM series ORDER BY id"
        )
        for sid, target, family, labels, origin, base, emitted, room in rows:
            # Interned: values repeat across series (projects, models); JSON makes copies.
            values = tuple(map(sys.intern, json.loads(labels)))
            family = sys.intern(family)
            origin = number(origin, origin)
            series = Series.new(sid, family, values, origin, base, emitted, room)
            by_id[sid] = series
            target_state(target).series.setdefault(family, {})[series.labels] = series
            next_id = max(next_id, sid + 1)
        for sid, stream, start, end, value in db.execute(
            "SELECT series_id, stream, start, end, value FROM buckets"
        ):
            key = (sys.intern(stream), start)
            by_id[sid].set_bucket(key_of(key, key), end, value)
        for sid, kind, start, value in db.execute(
            "SELECT series_id, kind, start, value FROM periods"
        ):
            key = (sys.intern(kind), start)
            by_id[sid].own_periods()[key_of(key, key)] = value
        for state in targets.values():
            for series_map in state.series.values():
                for series in series_map.values():
                    state.index(series)
                    # stored `emitted` is a lower bound (schema 4): the counter is the larger
                    # of it and the true sum
                    series.emitted = max(series.emitted, series.true_sum())
        for target, stream, cursor, origin, width in db.execute(
            "SELECT target, stream, cursor, origin, width FROM cursors"
        ):
            target_state(target).cursors[stream] = Cursor(cursor, origin, width)
        for target, stream, family, labels, value in db.execute(
            "SELECT target, stream, family, labels, value FROM levels"
        ):
            levels = target_state(target).levels.setdefault(stream, {})
            levels[(family, tuple(json.loads(labels)))] = value
    except (sqlite3.Error, KeyError, ValueError) as err:
        raise LedgerError(f"{path}: state file is inconsistent: {err}") from None
    return targets, next_id
