"""The bucket ledger: exact, monotonic, restart-safe counters from revisable bucket totals.

Per series and bucket it keeps the latest value the upstream reported; a counter is the sum of
those (plus the folded `base` of settled buckets), never allowed to go down. Everything lives in
memory for fast snapshots and in SQLite for restarts; a commit is one SQLite transaction: it
changes memory in place, journaled, undoes that if the transaction fails, and readers wait for it
to end (they see durable states only). It knows nothing of vendors and must
never silently reset: an unreadable or foreign state file is an error.

One idea per module: `schema` (the file format and its migrations), `state_file` (opening,
refusing, migrating), `loading`, `series` (the in-memory model), `commit` (commit arithmetic),
`journal` (what a commit changed, to undo it), `persist` (writing what changed), `read` (samples
for a rendering), `key_values` (the `meta` store), `history` (the daily cost history), and
`ledger` (the `Ledger` that ties them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporter.ledger.commit import OVERFLOW, CommitStats
    from exporter.ledger.errors import LedgerError
    from exporter.ledger.layout import BucketKey
    from exporter.ledger.ledger import Ledger
    from exporter.ledger.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

# name -> its module. Imported when first asked for (PEP 562): a reader of the state file (the
# FOCUS export, in the listener process) takes the schema and the error without the ledger's
# in-memory model, its commit and its loading (bench/RESULTS.md, round three: memory).
_WHERE = {
    "APPLICATION_ID": "schema",
    "MIGRATIONS": "schema",
    "OVERFLOW": "commit",
    "SCHEMA_VERSION": "schema",
    "BucketKey": "layout",
    "CommitStats": "commit",
    "Ledger": "ledger",
    "LedgerError": "errors",
}

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "OVERFLOW",
    "SCHEMA_VERSION",
    "BucketKey",
    "CommitStats",
    "Ledger",
    "LedgerError",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
