"""The test kit's process helpers as the tests use them: one import point, and a missing tool
that skips the test (fails it under CI, never silently) instead of raising.

The helpers themselves live in `testkit.processes`, shared with the benchmarks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.daemon import Daemon, Target
from testkit.processes import (
    HOST,
    Process,
    clock_in_the_past,
    created,
    demo,
    exporter,
    exporter_argv,
    free_port,
    http,
    http_json,
    parse_samples,
    promql,
    queue_faults,
    run_argv,
    run_to_end,
    run_until_exit,
    running,
    scrape,
    scraped_now,
    settle,
    simulator,
    start,
    success_polls,
    wait_for,
)
from testkit.processes import prometheus as _prometheus
from testkit.tools import WHERE_TOOLS_COME_FROM, MissingTool, find_tool

ROOT = Path(__file__).resolve().parents[1]

__all__ = [
    "HOST",
    "WHERE_TOOLS_COME_FROM",
    "Process",
    "TwinControl",
    "clock_in_the_past",
    "config_file",
    "created",
    "demo",
    "exporter",
    "exporter_argv",
    "free_port",
    "http",
    "http_json",
    "parse_samples",
    "prometheus",
    "promql",
    "queue_faults",
    "require_tool",
    "run_argv",
    "run_to_end",
    "run_until_exit",
    "running",
    "scrape",
    "scraped_now",
    "served_around",
    "served_samples",
    "settle",
    "simulator",
    "start",
    "success_polls",
    "wait_for",
]


def require_tool(name: str) -> str:
    """The tool's path; a missing tool fails under CI and skips elsewhere (never silently)."""
    try:
        return find_tool(name)
    except MissingTool as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))


def prometheus(
    tmp: Path,
    exporter_url: str | Sequence[str],
    scrape_interval: str = "1s",
    rule_files: tuple[Path, ...] = (),
) -> AbstractContextManager[Process]:
    """A real Prometheus scraping `exporter_url`, or each of several (the Debian package
    `prometheus`)."""
    return _prometheus(
        tmp, exporter_url, scrape_interval, rule_files, binary=require_tool("prometheus")
    )


def bench_output(module: str, *args: str, timeout: float = 120) -> str:
    """What `python -m <module> <args>` prints, run from the repository root (the tests never
    import `bench`); a non-zero exit fails the test with the end of its output."""
    done = run_to_end([sys.executable, "-m", module, *args], timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, f"{module} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def imported_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter holds once it has imported `modules`: what a process
    that runs them pays for in memory (bench/RESULTS.md, round three)."""
    code = f"import sys\nimport {', '.join(modules)}\nprint(*sys.modules, sep='\\n')"
    done = run_to_end([sys.executable, "-c", code], timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(done.stdout.split())


@dataclass(frozen=True)
class TwinControl:
    """A twin's control endpoint for one organization (`/_sim/openai/admin`,
    `/_sim/anthropic/names`, ...): GET its ground truth, POST an action (rename, refuse, ...)."""

    path: str
    org: str

    def truth(self, sim: Process) -> Any:
        return http_json(f"{sim.url}{self.path}?org={self.org}")

    def act(self, sim: Process, **body: Any) -> Any:
        return http_json(f"{sim.url}{self.path}", method="POST", body={"org": self.org, **body})


def served_samples(daemon: Daemon) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples an in-process daemon serves now (its text exposition)."""
    exposition = daemon.state.exposition
    assert exposition is not None
    return parse_samples(exposition.text.decode())


async def served_around(
    daemon: Daemon, target: Target, change: Callable[[], object]
) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], ...]:
    """(before, after): what an in-process daemon serves after a first poll of every target,
    and after `change()` (a rename in the twin, ...), a poll of `target` and a forced refresh of
    its names; the daemon is closed at the end."""
    try:
        assert await daemon.poll_all()
        before = served_samples(daemon)
        change()
        assert await daemon.poll(target)
        await daemon.poll_resources(target, force=True)
        return before, served_samples(daemon)
    finally:
        await daemon.aclose()


def config_file(
    tmp: Path, *sources: Mapping[str, Any], name: str = "config.yaml", state: str = "state"
) -> Path:
    """A config file in `tmp` with `sources` (config entries) and the state in `tmp / state`."""
    path = tmp / name
    body = {"state_dir": str(tmp / state), "sources": [dict(source) for source in sources]}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path
