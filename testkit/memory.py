"""A process's memory as Linux reports it (`/proc/PID/status`), for the soak and the benchmarks."""

from __future__ import annotations

import contextlib
from pathlib import Path


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """Resident (`VmRSS`), peak resident (`VmHWM`) and proportional (`Pss`) memory of a process;
    empty off Linux. `Pss` counts a page shared by n processes as 1/n in each (the libraries
    both of the daemon's processes map), so summed over processes it counts each page once."""
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found: dict[str, int] = {
            k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM") if k in fields
        }
        with contextlib.suppress(OSError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
            found |= {
                k: int(v.split()[0])
                for k, v in (line.split(":", 1) for line in rollup)
                if k == "Pss"
            }
        return found
    return {}
