"""A process's memory as Linux reports it (`/proc/PID/status`), for the soak and the benchmarks."""

from __future__ import annotations

import contextlib
from pathlib import Path


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """Resident (`VmRSS`) and peak resident (`VmHWM`) memory of a process; empty off Linux."""
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM") if k in fields}
    return {}
