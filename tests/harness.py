"""The test kit's process helpers as the tests use them: one import point, and a missing tool
that skips the test (fails it under CI, never silently) instead of raising.

The helpers themselves live in `testkit.processes`, shared with the benchmarks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

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
    run_argv,
    running,
    scrape,
    settle,
    simulator,
    start,
    success_polls,
    wait_for,
)
from testkit.processes import prometheus as _prometheus
from testkit.tools import WHERE_TOOLS_COME_FROM, MissingTool, find_tool

__all__ = [
    "HOST",
    "WHERE_TOOLS_COME_FROM",
    "Process",
    "clock_in_the_past",
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
    "require_tool",
    "run_argv",
    "running",
    "scrape",
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
    import `bench`); a non-zero exit fails the test with the end of its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{module} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout
