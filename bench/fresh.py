"""A measurement in a new interpreter: what one size or one restart leaves behind in memory must
not count for the next, and a restart is a process that never held the state in memory."""

from __future__ import annotations

import subprocess
import sys


def lines_of(module: str, call: str, timeout: float = 3600) -> list[str]:
    """The lines printed by `bench.<module>`'s `call` (a Python expression giving a list of
    table rows) run in a new interpreter."""
    code = f"import bench.{module} as m; print(*m.{call}, sep='\\n')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=timeout
    )
    return done.stdout.splitlines()
