"""Saving a commit: the rows of what changed, written in the caller's transaction. Of an existing
series only what differs from its published version is written."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring_ascii

from exporter.ledger.series import Cursor, Series, TargetState
from exporter.model import Labels


def labels_json(labels: Labels) -> str:
    """`json.dumps(labels)`, byte for byte, without building an encoder per call."""
    return "[" + ", ".join(map(encode_basestring_ascii, labels)) + "]"


def write_series(
    db: sqlite3.Connection,
    target: str,
    state: TargetState,
    touched: Sequence[Series],
    created: set[int],
) -> None:
    """Save `touched` series; those in `created` (ids) are new. Of an existing series only
    what differs from its published version (still in `state`) is written: a poll that
    raises one open bucket per series writes two rows per series, not a series' worth."""
    db.executemany(
        "INSERT INTO series (id, target, family, labels, origin, base, emitted) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (s.id, target, s.family, labels_json(s.labels), s.origin, s.base, s.emitted)
            for s in touched
            if s.id in created
        ],
    )
    updated: list[tuple[float, float, int]] = []
    buckets: list[tuple[int, str, int, int, float]] = []
    gone_buckets: list[tuple[int, str, int]] = []
    periods: list[tuple[int, str, int, float]] = []
    gone_periods: list[tuple[int, str, int]] = []
    published, nothing = state.series, Series(0, "", (), 0, 0.0, 0.0)
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
    db.executemany("UPDATE series SET base=?, emitted=? WHERE id=?", updated)
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
