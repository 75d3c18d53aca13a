"""The state file's format: its SQLite tables, its identity, and the migrations between its
schema versions (where a new version is added: one obvious file)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from exporter import __version__

APPLICATION_ID = 0x55534558  # "USEX"
WRITER = f"usage-exporter {__version__}"


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


def _compact_tables(db: sqlite3.Connection) -> None:
    """4 (0.3.0): `series` without its UNIQUE (target, family, labels) index (the ledger keys
    series by labels in memory; the index cost more than the rest of a first poll's writes),
    `buckets` and `periods` WITHOUT ROWID (one B-tree each instead of a table and its key's
    index). `series.emitted` becomes a lower bound: a steady poll writes it only where the
    counter holds a peak above its true sum, and loading takes the larger of the two."""
    tables = {  # name: (its columns, its key)
        "series": (
            "id INTEGER PRIMARY KEY, target TEXT NOT NULL, family TEXT NOT NULL, "
            "labels TEXT NOT NULL, origin INTEGER NOT NULL, base REAL NOT NULL, "
            "emitted REAL NOT NULL",
            ")",
        ),
        "buckets": (
            "series_id INTEGER NOT NULL, stream TEXT NOT NULL, start INTEGER NOT NULL, "
            "end INTEGER NOT NULL, value REAL NOT NULL",
            ", PRIMARY KEY (series_id, stream, start)) WITHOUT ROWID",
        ),
        "periods": (
            "series_id INTEGER NOT NULL, kind TEXT NOT NULL, start INTEGER NOT NULL, "
            "value REAL NOT NULL",
            ", PRIMARY KEY (series_id, kind, start)) WITHOUT ROWID",
        ),
    }
    for name, (columns, key) in tables.items():
        names = ", ".join(column.split()[0] for column in columns.split(", "))
        db.execute(f"CREATE TABLE {name}_4 ({columns}{key}")
        db.execute(f"INSERT INTO {name}_4 ({names}) SELECT {names} FROM {name}")  # noqa: S608
        db.execute(f"DROP TABLE {name}")
        db.execute(f"ALTER TABLE {name}_4 RENAME TO {name}")


# Schema migrations: MIGRATIONS[n] turns schema n - 1 into n. Each runs in one transaction
# with `PRAGMA user_version = n`, after a backup copy of the file is written next to it.
# A released migration is never edited; a change to the schema is a new number.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    2: _add_meta,
    3: _add_charges,
    4: _compact_tables,
}
SCHEMA_VERSION = max(MIGRATIONS)

# The tables of schema 1: a new file gets them, then every migration in MIGRATIONS.
SCHEMA = """
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
