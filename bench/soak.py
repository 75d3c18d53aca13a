"""Seeded random fault soak: every counter stays exact while the upstreams misbehave.

The scenario is `testkit.soak` (shared with tests/integration/test_fault_soak.py, which runs it
for 45 s): the simulator and the exporter as real processes on 127.0.0.1 with all four sources,
a random fault for each call with probability `rate`, then faults off, late usage restored, the
clock frozen, and every counter series compared with the simulator's ground truth.

Usage: python -m bench.soak [--seconds 600] [--seed 7] [--rate 0.15]
Prints Markdown tables of the figures; exits 1 on a mismatch or if the exporter exited.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
from pathlib import Path

from testkit.soak import run, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=600, help="how long faults are on")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.15, help="probability of a fault per call")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        help="a fault sort not to inject: kind, label or upstream:label (repeatable)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep state and logs here (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        workdir.mkdir(parents=True, exist_ok=True)
        figures = run(
            workdir,
            seconds=args.seconds,
            seed=args.seed,
            rate=args.rate,
            exclude=tuple(args.exclude),
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    command = (
        f"python -m bench.soak --seconds {args.seconds:g} --seed {args.seed} --rate {args.rate:g}"
    )
    command += "".join(f" --exclude {e}" for e in args.exclude)
    where = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    print(f"`{command}` on {where}\n")
    print(table(figures))
    return 0 if not figures.mismatches and figures.exporter_alive else 1


if __name__ == "__main__":
    raise SystemExit(main())
