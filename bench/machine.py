"""What the benchmarks read of the machine and of their processes (Linux `/proc`): the header
line every results table starts with, and a process's CPU (its memory: `testkit.memory`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from pathlib import Path


def machine_header(command: str) -> str:
    mem = "unknown memory"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return (
        f"Command: `{command}`. Machine: {os.cpu_count()} cores, {mem} (MemTotal), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start. "
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC."
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
