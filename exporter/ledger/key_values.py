"""A small key-value store in the state file's `meta` table, for what callers record with the
series (the settings a target's series were counted with)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from exporter.ledger.errors import LedgerError


def read_value(db: sqlite3.Connection, path: Path, key: str) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: cannot read state: {err}") from None
    return str(row[0]) if row else None


def save_value(db: sqlite3.Connection, path: Path, key: str, value: str) -> None:
    try:
        db.execute("REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: cannot save state: {err}") from None
