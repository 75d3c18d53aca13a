"""Upstream calls per poll per target, as targets, OpenAI endpoints and lookback grow.

Usage: python -m bench.upstream_calls [--smoke]

Every row runs the simulator and the exporter as real processes on 127.0.0.1 with generated
configs (one OpenAI source per target, each its own simulated organization and Admin key, 1h
buckets, `backfill` 7d, `group_by` [project_id, model, line_item]) on one state directory, and
reads the exporter's self-metrics: `usage_exporter_upstream_requests_total` (every HTTP call,
retries included) against `usage_exporter_polls_total`, per target, averaged over the targets.

1. first poll: an exporter on an empty state polls once (a long interval and timeout, so the
   backfill always completes): the calls of the backfill poll;
2. steady: the exporter restarts with a short interval; poll 1 resumes from the saved cursors,
   polls 2..n+1 give the calls per steady poll;
3. the clock of both processes jumps days ahead (many buckets), then an exporter polls once:
   the catch-up poll re-reads the gap plus the lookback, and no more;
4. steady after the jump, as in 2. A poll that re-read settled history (from the backfill origin
   or any older cursor) would cost more here than in 2, and "bounded" would say NO.

The jump (4 days after a 7-day backfill) is kept below the backfill minus the costs stream's
lookback and width: a poll never reads more than a first poll does, so a longer gap is caught up
over several polls, and the steady phase would then start before the catch-up ends.

Why a clock shared by both processes: the exporter's windows come from its own wall clock, so
moving only the simulator's `/_sim/clock` does not change what the exporter asks for. Both
processes are started through this module (`--virtual-clock FILE -- ARGS`), which sets
`time.time()` to the real time plus the offset (seconds) written in FILE, then runs
`exporter.cli.main(ARGS)`; nothing else differs from `python -m exporter ...`.

Pagination: at the API's page sizes (168 hourly buckets, 180 daily ones) every steady window is
one page, so rows with `page cap` 6 run the simulator with `--max-page-buckets 6` (a page holds
at most 6 buckets): there the calls grow with lookback, while staying flat with elapsed time.

The exposition (and the self-metrics in it) is rendered after each poll; for each target and
each value of its poll counter the smallest request count seen is kept: the count at the end of
that poll, before the target's next poll started. A steady phase whose polls fail (time out:
the simulator answers too slowly on a loaded machine) is run again with twice the interval.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from bench.machine import machine_header
from exporter.vendors.openai.api import OpenAIEndpoint
from testkit.processes import HOST, Process, free_port, parse_samples, running, scrape

REPO = Path(__file__).resolve().parent.parent
ALL_ENDPOINTS: tuple[str, ...] = get_args(OpenAIEndpoint)
FEW_ENDPOINTS = ("completions", "costs")
DAY = 86400
COLUMNS = (
    "targets",
    "endpoints",
    "lookback",
    "page cap",
    "first poll calls/target",
    "steady calls/poll/target",
    "clock jump",
    "catch-up calls/target",
    "steady calls/poll/target after the jump",
    "bounded",
)


# -- the virtual clock (runs inside the child processes) -------------------------------------


def _virtual_clock_main(argv: list[str]) -> int:
    """`--virtual-clock FILE -- ARGS`: `exporter.cli.main(ARGS)` with `time.time()` shifted by
    the number of seconds in FILE (re-read when the file is replaced). Imports the exporter only
    after the patch, so every `clock=time.time` default sees it."""
    path = argv[0]
    args = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    real = time.time
    state: dict[str, Any] = {"offset": 0.0, "checked": -1.0, "stamp": None}

    def virtual_time() -> float:
        mono = time.monotonic()
        if mono - state["checked"] >= 0.02:
            state["checked"] = mono
            with contextlib.suppress(OSError, ValueError):
                st = os.stat(path)
                stamp = (st.st_ino, st.st_mtime_ns)
                if stamp != state["stamp"]:
                    state["offset"] = float(Path(path).read_text().strip() or 0)
                    state["stamp"] = stamp
        return real() + float(state["offset"])

    time.time = virtual_time
    from exporter.cli.main import main as cli_main

    return cli_main(args)


def set_offset(path: Path, seconds: float) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{seconds}\n")
    os.replace(tmp, path)


# -- reading the exporter (shared with bench.startup) ------------------------------------------


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample of an exposition."""
    return [(name, dict(labels), value) for (name, labels), value in parse_samples(text).items()]


# -- one row -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    targets: int
    endpoints: tuple[str, ...]
    lookback: str
    page_cap: int | None = None
    backfill_days: int = 7
    jump_days: int = 4  # at most backfill - 3d: the catch-up is then a single poll
    steady_polls: int = 3
    interval: int = 2  # of the steady phases; doubled while a steady poll fails


@dataclass
class Track:
    """One target in one exporter process: for each value of its poll counter, the smallest
    request count seen (the count at the end of that poll, before the next one started)."""

    calls_at: dict[int, float] = field(default_factory=dict)
    failed: float = 0.0
    not_ok: float = 0.0

    @property
    def polls(self) -> int:
        return max(self.calls_at, default=0)

    def calls(self, first: int, last: int) -> float:
        """Calls made by polls first..last (inclusive) of this process."""
        return self.calls_at[last] - self.calls_at.get(first - 1, 0.0)


class Sampler:
    def __init__(self, url: str, targets: Sequence[str], process: Process) -> None:
        self.url = url
        self.process = process
        self.tracks = {t: Track() for t in targets}

    def sample(self) -> None:
        self.process.check()
        polls: dict[str, float] = {}
        calls: dict[str, float] = {}
        failed: dict[str, float] = {}
        not_ok: dict[str, float] = {}
        for name, labels, value in samples(scrape(self.url)):
            target = labels.get("target", "")
            if target not in self.tracks:
                continue
            if name == "usage_exporter_polls_total":
                polls[target] = polls.get(target, 0.0) + value
                if labels.get("result") != "success":
                    failed[target] = failed.get(target, 0.0) + value
            elif name == "usage_exporter_upstream_requests_total":
                calls[target] = calls.get(target, 0.0) + value
                if labels.get("code") != "200":
                    not_ok[target] = not_ok.get(target, 0.0) + value
        for target, track in self.tracks.items():
            n = int(polls.get(target, 0))
            if n == 0:
                continue
            seen = calls.get(target, 0.0)
            track.calls_at[n] = min(track.calls_at.get(n, seen), seen)
            track.failed = failed.get(target, 0.0)
            track.not_ok = not_ok.get(target, 0.0)

    def until_polls(self, polls: int, timeout: float) -> None:
        """Sample until every target has finished `polls` polls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                self.sample()
                if all(t.polls >= polls for t in self.tracks.values()):
                    return
            time.sleep(0.02)
        raise TimeoutError(f"timed out after {timeout:g}s waiting for {polls} polls per target")


def openai_config(
    case: Case, sim_url: str, state_dir: Path, interval: int, timeout: int
) -> dict[str, Any]:
    return {
        "state_dir": str(state_dir),
        "sources": [
            {
                "kind": "openai",
                "name": f"org-{i}",
                "base_url": sim_url,
                "api_key": f"sk-admin-bench-{i}",
                "interval": interval,
                "timeout": timeout,
                "bucket_width": "1h",
                "backfill": f"{case.backfill_days}d",
                "lookback": case.lookback,
                "endpoints": list(case.endpoints),
                "group_by": ["project_id", "model", "line_item"],
                # names and limits are read on their own schedule, not per poll: not counted
                "resources": dict.fromkeys(RESOURCES, False),
            }
            for i in range(case.targets)
        ],
    }


def child_argv(clock: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.upstream_calls",
        "--virtual-clock",
        str(clock),
        "--",
        *args,
    ]


RESOURCES = ("projects", "api_keys", "users", "spend_limits", "spend_alerts", "rate_limits")
ONE_POLL_INTERVAL = 3600  # the backfill and catch-up processes poll once: no second poll
ONE_POLL_TIMEOUT = 600


class Bench:
    """The simulator (running throughout) and exporter processes on one state directory."""

    def __init__(self, case: Case, tmp: Path, sim_url: str, clock: Path) -> None:
        self.case = case
        self.tmp = tmp
        self.sim_url = sim_url
        self.clock = clock
        self.targets = [f"org-{i}" for i in range(case.targets)]
        self.runs = 0
        self.not_ok = 0.0  # calls answered other than 200, over every exporter process

    def exporter(self, polls: int, interval: int, timeout: int) -> dict[str, Track]:
        """Start the exporter on the shared state, let every target poll `polls` times, stop."""
        import yaml

        self.runs += 1
        config = self.tmp / f"config-{self.runs}.yaml"
        config.write_text(
            yaml.safe_dump(
                openai_config(self.case, self.sim_url, self.tmp / "state", interval, timeout)
            )
        )
        port = free_port()
        url = f"http://{HOST}:{port}"
        argv = child_argv(
            self.clock,
            "--log.level=warn",
            "run",
            f"--config={config}",
            f"--web.listen-address={HOST}:{port}",
            # one process: the virtual clock is patched into this process only (a spawned
            # listener would neither see it nor be able to receive it); calls are counted here
            "--no-web.listener-process",
        )
        log = self.tmp / f"exporter-{self.runs}.log"
        with running("exporter", argv, log, url, ready_path="/healthz") as process:
            sampler = Sampler(url, self.targets, process)
            sampler.until_polls(polls, timeout=30 + polls * (interval + timeout))
        self.not_ok += sum(track.not_ok for track in sampler.tracks.values())
        return sampler.tracks

    def one_poll(self) -> list[float]:
        """Calls of one poll per target, in a process that polls once (a long interval)."""
        tracks = self.exporter(1, ONE_POLL_INTERVAL, ONE_POLL_TIMEOUT)
        failed = [t for t, track in tracks.items() if track.failed]
        if failed:
            raise RuntimeError(f"the first poll of {failed} failed: see the exporter log")
        return [track.calls(1, 1) for track in tracks.values()]

    def steady(self) -> tuple[list[float], int]:
        """Calls per poll of polls 2..1+n (poll 1 resumes after the restart); the interval is
        doubled while a poll fails (a timeout: the simulator answers too slowly for it)."""
        n = self.case.steady_polls
        interval = self.case.interval
        while True:
            tracks = self.exporter(1 + n, interval, interval)
            if not any(track.failed for track in tracks.values()):
                return [track.calls(2, 1 + n) / n for track in tracks.values()], interval
            if interval >= 32:
                raise RuntimeError(f"steady polls keep failing at interval {interval}s")
            interval *= 2


def measure(case: Case) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-upstream-") as scratch:
        tmp = Path(scratch)
        clock = tmp / "clock"
        set_offset(clock, 0)
        port = free_port()
        keys = [f"--openai-key=sk-admin-bench-{i}=org-bench-{i}" for i in range(case.targets)]
        cap = [f"--max-page-buckets={case.page_cap}"] if case.page_cap else []
        sim_argv = child_argv(
            clock, "simulate", f"--web.listen-address={HOST}:{port}", "--seed=8", *keys, *cap
        )
        sim_url = f"http://{HOST}:{port}"
        with running(
            "simulator", sim_argv, tmp / "simulator.log", sim_url, ready_path="/_sim/clock"
        ):
            bench = Bench(case, tmp, sim_url, clock)
            first = bench.one_poll()
            steady, interval_early = bench.steady()
            set_offset(clock, case.jump_days * DAY)
            catch_up = bench.one_poll()
            late, interval_late = bench.steady()

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return {
        "first": mean(first),
        "steady": mean(steady),
        "catch_up": mean(catch_up),
        "late": mean(late),
        "interval": max(interval_early, interval_late),
        "not_ok": bench.not_ok,
        "per_target": list(zip(first, steady, catch_up, late, strict=True)),
    }


def number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def row(case: Case, result: dict[str, Any]) -> str:
    endpoints = "all 11" if len(case.endpoints) == len(ALL_ENDPOINTS) else "+".join(case.endpoints)
    cells = [
        str(case.targets),
        endpoints,
        case.lookback,
        str(case.page_cap) if case.page_cap else "API max",
        number(result["first"]),
        number(result["steady"]),
        f"+{case.jump_days}d",
        number(result["catch_up"]),
        number(result["late"]),
        "yes" if result["late"] <= result["steady"] else "NO",
    ]
    return "| " + " | ".join(cells) + " |"


def cases(smoke: bool) -> list[Case]:
    if smoke:
        return [
            Case(
                1,
                FEW_ENDPOINTS,
                "2h",
                page_cap=4,
                backfill_days=4,
                jump_days=1,
                steady_polls=2,
                interval=1,
            )
        ]
    out = [
        Case(targets, endpoints, lookback)
        for targets in (1, 2, 4)
        for endpoints in (FEW_ENDPOINTS, ALL_ENDPOINTS)
        for lookback in ("2h", "6h", "24h")
    ]
    out += [
        Case(1, endpoints, lookback, page_cap=6)
        for endpoints in (FEW_ENDPOINTS, ALL_ENDPOINTS)
        for lookback in ("2h", "6h", "24h")
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--virtual-clock"]:
        return _virtual_clock_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.upstream_calls", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one tiny row (seconds)")
    args = parser.parse_args(argv)
    command = "python -m bench.upstream_calls" + (" --smoke" if args.smoke else "")
    print(machine_header(command))
    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS), flush=True)
    for case in cases(args.smoke):
        result = measure(case)
        print(row(case, result), flush=True)
        if result["interval"] > case.interval or result["not_ok"]:
            print(
                f"note: {case}: steady interval {result['interval']}s, "
                f"{result['not_ok']:g} calls answered other than 200 (retries included)",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
