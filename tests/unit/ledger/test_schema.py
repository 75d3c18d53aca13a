"""The state file's migration framework: a new file is at the current schema with its writer
recorded; a migration that fails leaves the file at the last committed schema, with a backup;
a file of a newer schema without a `meta` table is still refused; a schema-3 file becomes
schema 4 and counts on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import exporter.ledger.schema as schema_module
from exporter import __version__
from exporter.ledger import SCHEMA_VERSION, Ledger, LedgerError
from exporter.model import Family, Flow, Kind, Sample, Stream, StreamRead
from tests.state_files import schema_version

H = 3600
T0 = 1_760_000_400 - 1_760_000_400 % H  # an hour boundary


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


def test_a_schema_3_file_is_compacted_and_counts_on(tmp_path: Path) -> None:
    """Schema 4 drops `series`' UNIQUE index and makes `buckets` and `periods` WITHOUT ROWID;
    a file a schema-3 version wrote (a fold into the base, open buckets, a held peak) loads
    with the same counters, and counts on."""
    path = tmp_path / "ledger.sqlite"
    family = Family("tokens_total", Kind.COUNTER, "tokens", ("model",))
    stream = Stream("usage", width=H, lookback=2 * H, backfill=6 * H)

    def poll(ledger: Ledger, now: int, values: dict[int, float]) -> None:
        flows = [Flow(family.name, ("m",), b, b + H, v) for b, v in values.items()]
        ledger.commit("t", now, [(stream, StreamRead("usage", T0 - 6 * H, now, flows))])

    def counters(ledger: Ledger) -> list[Sample]:
        return [s for item in ledger.samples("t") for s in item.samples]

    with pytest.MonkeyPatch.context() as patch:
        known = {n: m for n, m in schema_module.MIGRATIONS.items() if n <= 3}
        patch.setattr(schema_module, "MIGRATIONS", known)
        patch.setattr(schema_module, "SCHEMA_VERSION", 3)
        ledger = Ledger(path)
        ledger.declare("t", [family])
        poll(ledger, T0, {T0 - 6 * H: 5, T0 - H: 7})  # the first settles into the base
        poll(ledger, T0 + 60, {T0 - H: 3})  # a fall: the counter holds 12
        before = counters(ledger)
        ledger.close()
    assert schema_version(path) == 3

    ledger = Ledger(path)
    ledger.declare("t", [family])
    assert schema_version(path) == SCHEMA_VERSION == 4
    assert counters(ledger) == before
    poll(ledger, T0 + 120, {T0 - H: 9})
    assert [s.value for s in counters(ledger)] == [14.0]
    ledger.close()
    db = sqlite3.connect(path)
    sql = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type='table'").fetchall())
    indexes = db.execute(
        "SELECT name FROM sqlite_master WHERE type='index' "
        "AND tbl_name IN ('series', 'buckets', 'periods')"
    ).fetchall()
    db.close()
    assert "UNIQUE" not in sql["series"]
    assert indexes == [], "an index beside the tables' own keys"
    assert sql["buckets"].endswith("WITHOUT ROWID") and sql["periods"].endswith("WITHOUT ROWID")
