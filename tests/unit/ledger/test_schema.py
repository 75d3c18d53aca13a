"""The state file's migration framework: a new file is at the current schema with its writer
recorded; a migration that fails leaves the file at the last committed schema, with a backup;
a file of a newer schema without a `meta` table is still refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import exporter.ledger.schema as schema_module
from exporter import __version__
from exporter.ledger import SCHEMA_VERSION, Ledger, LedgerError
from tests.state_files import schema_version


def test_a_new_file_is_at_the_current_schema_and_names_its_writer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    assert schema_version(path) == SCHEMA_VERSION
    db = sqlite3.connect(path)
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    db.close()
    assert meta == {
        "created_by": f"usage-exporter {__version__}",
        "written_by": f"usage-exporter {__version__}",
    }
    assert not list(tmp_path.glob("*.backup"))  # nothing to migrate, no backup


def test_a_failing_migration_leaves_the_last_committed_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()

    def third(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE extra (x INTEGER)")
        db.execute("INSERT INTO no_such_table VALUES (1)")  # fails inside the transaction

    monkeypatch.setitem(schema_module.MIGRATIONS, SCHEMA_VERSION + 1, third)
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(LedgerError) as failure:
        Ledger(path)
    message = str(failure.value)
    assert f"migrating the state to schema {SCHEMA_VERSION + 1} failed" in message
    assert f"the file is at schema {SCHEMA_VERSION}" in message
    assert schema_version(path) == SCHEMA_VERSION
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert "extra" not in tables, "half a migration was committed"
    assert (tmp_path / f"ledger.sqlite.schema-{SCHEMA_VERSION}.backup").exists()


def test_a_newer_file_without_meta_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE meta")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="written by a newer usage-exporter"):
        Ledger(path)
