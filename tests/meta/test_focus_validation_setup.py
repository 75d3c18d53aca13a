"""Without Python 3.12 the validator's test fails when `CI` is set and skips (saying why)
otherwise; a pyenv shim that refuses to run is no interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import focus_validation


def test_a_missing_python_fails_under_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(focus_validation, "VENV", tmp_path / "venv")
    monkeypatch.setattr(focus_validation, "find_python312", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"Python 3\.12"):
        focus_validation.validator_python()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"Python 3\.12"):
        focus_validation.validator_python()


def test_a_refusing_shim_is_no_interpreter(tmp_path: Path) -> None:
    shim = tmp_path / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    assert not focus_validation._runs(str(shim))
