"""A state file as the tests read it: with sqlite3 directly, not through the ledger's code they
check."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def schema_version(path: Path) -> int:
    """The schema the state file at `path` is at (`PRAGMA user_version`)."""
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
