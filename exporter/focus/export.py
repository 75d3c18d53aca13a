"""The FOCUS export as the command line and the HTTP endpoint use it: a state file, the
registered vendors' cost mappings, the retention; a month asked for by its `YYYY-MM`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exporter.focus import columns as c
from exporter.focus.dataset import Dataset, Vendor, check_month


def registered_vendors() -> tuple[Vendor, ...]:
    """Every registered plug-in that declares a cost mapping."""
    from exporter.vendors import plugins

    return tuple(Vendor(p.focus, {f.name: f for f in p.families}) for p in plugins() if p.focus)


@dataclass(frozen=True, slots=True)
class FocusExport:
    """Where the datasets come from: picklable, so the listener process can serve them too."""

    state_file: Path
    retention_months: int = 13
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def dataset(self, month: str) -> Dataset:
        """The dataset of `month` (`YYYY-MM`); MonthError (with its HTTP status) when it is
        malformed, not begun, or older than the retention."""
        start = c.parse_month(month)
        check_month(start, int(self.clock()), self.retention_months)
        return Dataset(self.state_file, registered_vendors(), start)
