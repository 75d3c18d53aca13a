"""A measurement in a new interpreter: what one size or one restart leaves behind in memory must
not count for the next, and a restart is a process that never held the state in memory. Such a
process imports what the daemon's does (`import_daemon`) before it measures."""

from __future__ import annotations

import importlib
import subprocess
import sys

DAEMON = ("exporter.daemon", "exporter.http.listener_process")  # all the daemon imports


def import_daemon() -> None:
    """Import what the daemon's process imports, so that memory is counted as in the daemon."""
    for module in DAEMON:
        importlib.import_module(module)


def lines_of(module: str, call: str, timeout: float = 3600) -> list[str]:
    """The lines printed by `bench.<module>`'s `call` (a Python expression giving a list of
    table rows) run in a new interpreter."""
    code = f"import bench.{module} as m; print(*m.{call}, sep='\\n')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=timeout
    )
    return done.stdout.splitlines()
