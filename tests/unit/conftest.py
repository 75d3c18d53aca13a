"""Fixtures the unit tests of several packages share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.cli.main import main


@pytest.fixture
def check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], tuple[int, str]]:
    """`usage-exporter check-config` of a file holding the text given: the exit code and what it
    wrote to stderr."""
    path = tmp_path / "c.yaml"

    def run(text: str) -> tuple[int, str]:
        path.write_text(text)
        code = main(["check-config", str(path)])
        return code, capsys.readouterr().err

    return run
