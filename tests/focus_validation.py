"""The FinOps Foundation's validator, focus-validator 2.2.1, as the tests run it.

It needs Python 3.12 (not 3.11: the project's; not 3.13: no wheel for its numpy pin), so it
lives in a venv of its own, made here once (`.cache/focus-validator-2.2.1/`, about 630 MB):
`focus-validator==2.2.1` with `pyarrow<26` (pyarrow 26 needs numpy 2 and crashes it). Python
3.12 is found as `$FOCUS_VALIDATOR_PYTHON`, `python3.12` on PATH (a pyenv shim that refuses to
run counts as missing), or pyenv's `versions/3.12.*`. Missing: the test skips, and fails when
`CI` is set. Its verdict is read from its per-rule results (its exit code is 0 when rules fail):
no failed rule but the self-contradicting InvoiceId pair, whose parent must pass."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.focus.columns import APPLICABILITY_CRITERIA

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "focus-validator-2.2.1"
REQUIREMENTS = ("focus-validator==2.2.1", "pyarrow<26")
RUNNER = Path(__file__).resolve().parent / "focus_validator_run.py"
# InvoiceId-C-004-C (must be null) and -005-C (must not be null) carry no condition: one of
# them always fails. Their parent, -003-C, passes when the column is all null or all set.
CONTRADICTION = frozenset({"InvoiceId-C-004-C", "InvoiceId-C-005-C"})
PARENT = "InvoiceId-C-003-C"


def _runs(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "True"


def find_python312() -> str | None:
    candidates = [os.environ.get("FOCUS_VALIDATOR_PYTHON", ""), shutil.which("python3.12") or ""]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(
            (str(p) for p in Path(root).glob("versions/3.12.*/bin/python3.12")), reverse=True
        )
    return next((c for c in candidates if c and _runs(c)), None)


def validator_python() -> str:
    """The validator venv's Python, made on first use; skip (fail under CI) without 3.12."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with (VENV.parent / f"{VENV.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers: one builds, the others wait
        return _built_venv()


def _built_venv() -> str:
    python = VENV / "bin" / "python"
    marker = VENV / "installed.txt"
    if python.exists() and marker.exists() and marker.read_text() == " ".join(REQUIREMENTS):
        return str(python)
    base = find_python312()
    if base is None:
        message = (
            "focus-validator needs Python 3.12: set FOCUS_VALIDATOR_PYTHON, or install 3.12 "
            "(pyenv install 3.12.1)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
        check=True,
        timeout=1200,
    )
    marker.write_text(" ".join(REQUIREMENTS))
    return str(python)


def _workdir(python: str) -> Path:
    """A directory holding the validator's currency file where it looks for it (relative to
    the current directory), and where it writes its log."""
    work = VENV / "work"
    target = work / "focus_validator" / "rules" / "currency_codes.csv"
    if not target.exists():
        located = subprocess.run(
            [
                python,
                "-c",
                "import focus_validator, os; print(os.path.dirname(focus_validator.__file__))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(located) / "rules" / "currency_codes.csv", target)
    return work


def rule_results(
    data: Path, criteria: tuple[str, ...] = APPLICABILITY_CRITERIA
) -> dict[str, dict[str, object]]:
    python = validator_python()
    done = subprocess.run(
        [python, str(RUNNER), str(data.resolve()), ",".join(criteria)],
        cwd=_workdir(python),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"focus-validator crashed: {done.stderr[-2000:]}"
    results: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def failures(results: dict[str, dict[str, object]]) -> list[str]:
    """The verdict: every failed rule but the contradicting pair (and the pair's parent if it
    failed). Empty: the file is valid FOCUS 1.2."""
    failed = [r for r, o in results.items() if o["ok"] is False and r not in CONTRADICTION]
    if results.get(PARENT, {}).get("ok") is not True:
        failed.append(PARENT)
    return sorted(set(failed))


def describe(results: dict[str, dict[str, object]], rules: list[str]) -> str:
    return "\n".join(f"{r}: {results.get(r, {}).get('details', '(missing)')}" for r in rules)
