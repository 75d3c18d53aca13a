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

from exporter.ledger.commit import OVERFLOW, CommitStats
from exporter.ledger.errors import LedgerError
from exporter.ledger.history import months_before
from exporter.ledger.layout import BucketKey
from exporter.ledger.ledger import Ledger
from exporter.ledger.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "OVERFLOW",
    "SCHEMA_VERSION",
    "BucketKey",
    "CommitStats",
    "Ledger",
    "LedgerError",
    "months_before",
]
