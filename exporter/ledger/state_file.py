"""Opening the state file: refusing a foreign or newer one, creating a new one, and migrating an
older one (after a backup copy) to the schema this version writes."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from exporter import __version__
from exporter.ledger import schema
from exporter.ledger.errors import LedgerError

log = logging.getLogger("exporter.ledger")


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a schema-`version` file is kept before it is migrated."""
    return path.with_name(f"{path.name}.schema-{version}.backup")


def rollback(db: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        db.execute("ROLLBACK")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, path: Path) -> Iterator[None]:
    """One write transaction around the block: rolled back on a SQLite error, which is raised
    as a `LedgerError` naming the file."""
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("COMMIT")
    except sqlite3.Error as err:
        rollback(db)
        raise LedgerError(f"{path}: cannot save state: {err}") from None


def _refuse_newer(path: Path) -> None:
    """A file of a newer schema is refused before SQLite opens it for writing (which could
    change it): read the header, then the writer's version through an immutable handle."""
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        return
    except OSError as err:
        raise LedgerError(f"{path}: cannot read the state file: {err.strerror}") from None
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        return  # not SQLite (or empty): the checks below say so
    version = int.from_bytes(header[60:64], "big")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id != schema.APPLICATION_ID or version <= schema.SCHEMA_VERSION:
        return
    writer = "a newer usage-exporter"
    with contextlib.suppress(sqlite3.Error):
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        ro = sqlite3.connect(uri, uri=True)
        try:
            row = ro.execute("SELECT value FROM meta WHERE key='written_by'").fetchone()
            if row:
                writer = str(row[0])
        finally:
            ro.close()
    raise LedgerError(
        f"{path}: state schema version {version}, written by {writer}; this is "
        f"usage-exporter {__version__}, which reads schema {schema.SCHEMA_VERSION} and older. "
        "The file is left untouched: run that version (or newer), or restore the backup "
        f"it wrote before migrating ({path.name}.schema-<N>.backup)"
    )


def _migrate(path: Path, db: sqlite3.Connection, version: int) -> None:
    """Back the file up, then apply each migration after `version` in its own transaction.
    Interrupted (SIGKILL, power loss), the file is at the last committed version and the
    next start goes on from there."""
    backup = backup_path(path, version)
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
            f"{path}: cannot write the backup {backup.name} before migrating the "
            f"state from schema {version} to {schema.SCHEMA_VERSION}: {err}; nothing was changed"
        ) from None
    for number in range(version + 1, schema.SCHEMA_VERSION + 1):
        try:
            db.execute("BEGIN IMMEDIATE")
            schema.MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version={number}")
            db.execute("COMMIT")
        except sqlite3.Error as err:
            rollback(db)
            raise LedgerError(
                f"{path}: migrating the state to schema {number} failed: {err}; the "
                f"file is at schema {number - 1} (backup: {backup.name})"
            ) from None
    log.info(
        "state file migrated",
        extra={
            "file": str(path),
            "from_schema": version,
            "to_schema": schema.SCHEMA_VERSION,
            "backup": str(backup),
        },
    )


def open_state(path: Path) -> sqlite3.Connection:
    """The state file at `path`, opened (created or migrated if need be) for writing."""
    _refuse_newer(path)
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise LedgerError(f"{path}: not a usage-exporter state file ({err})") from None
    if app_id == 0 and tables == 0:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            for statement in schema.SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for number in range(2, schema.SCHEMA_VERSION + 1):
                schema.MIGRATIONS[number](db)
            db.execute(f"PRAGMA application_id={schema.APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION}")
            db.execute("REPLACE INTO meta (key, value) VALUES ('created_by', ?)", (schema.WRITER,))
            db.execute("COMMIT")
        except sqlite3.Error as err:
            rollback(db)
            raise LedgerError(f"{path}: cannot create the state file: {err}") from None
    elif app_id != schema.APPLICATION_ID:
        raise LedgerError(
            f"{path}: this SQLite file does not belong to usage-exporter "
            "(application_id differs); refusing to touch it"
        )
    elif version < 1 or version > schema.SCHEMA_VERSION:  # (newer: refused above, unless in WAL)
        raise LedgerError(
            f"{path}: state schema version {version}, this version reads 1 to "
            f"{schema.SCHEMA_VERSION}; refusing to guess"
        )
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: cannot open the state file: {err}") from None
    if integrity != "ok":
        raise LedgerError(f"{path}: state file is corrupt ({integrity})")
    if app_id == schema.APPLICATION_ID and version < schema.SCHEMA_VERSION:
        try:
            _migrate(path, db, version)
        except LedgerError:
            db.close()
            raise
    try:
        row = db.execute("SELECT value FROM meta WHERE key='written_by'").fetchone()
        if row is None or row[0] != schema.WRITER:
            db.execute("REPLACE INTO meta (key, value) VALUES ('written_by', ?)", (schema.WRITER,))
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: cannot open the state file: {err}") from None
    return db
