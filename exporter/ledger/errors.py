"""The ledger's one error."""

from __future__ import annotations


class LedgerError(Exception):
    """The state file is corrupt, foreign or unwritable: a clear message, never a silent reset."""
