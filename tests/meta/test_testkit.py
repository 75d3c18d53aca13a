"""The dev-only test kit keeps `tests/` and `bench/` apart, and the benchmarks free of pytest.

Read from the sources (every `import` and `from … import`, at any depth, by AST): `bench/`
imports nothing of `tests`, `tests/` nothing of `bench`, `testkit/` neither of them nor pytest,
`bench/` no pytest. Then `python -m bench.soak --help` runs with pytest made unimportable.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "bench": {"tests", "pytest", "_pytest"},
    "tests": {"bench"},
    "testkit": {"tests", "bench", "pytest", "_pytest"},
}


def imported(source: str) -> set[str]:
    """The top-level package of every absolute import in `source`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def crossings(root: Path) -> list[str]:
    """Every import from one of the three packages into a package it must not reach."""
    found = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            for name in sorted(imported(path.read_text()) & forbidden):
                found.append(f"{path.relative_to(root)} imports {name}")
    return found


def test_imports_parsed_at_any_depth() -> None:
    source = "import os\nfrom tests.harness import x\ndef f():\n    import bench.soak\n"
    source += "from . import y\n"
    assert imported(source) == {"os", "tests", "bench"}


def test_no_import_between_bench_and_tests_and_none_of_pytest_outside_tests() -> None:
    assert crossings(REPO) == []


def test_a_crossing_is_found(tmp_path: Path) -> None:
    for package in FORBIDDEN:
        (tmp_path / package).mkdir()
    (tmp_path / "bench" / "late.py").write_text("def f():\n    from tests.harness import x\n")
    (tmp_path / "testkit" / "skip.py").write_text("import pytest\n")
    assert crossings(tmp_path) == ["bench/late.py imports tests", "testkit/skip.py imports pytest"]


BLOCK_PYTEST = """
import importlib.abc, runpy, sys

class NoPytest(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
        return None

sys.meta_path.insert(0, NoPytest())
sys.argv = ["bench.soak", "--help"]
runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("module", ["bench.soak", "tests.harness"])
def test_bench_soak_runs_without_pytest(module: str) -> None:
    """`tests.harness` (which needs pytest) is the proof that the block works."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_PYTEST.replace("MODULE", repr(module))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if module == "tests.harness":
        assert done.returncode != 0 and "(blocked)" in done.stderr, done.stderr[-2000:]
    else:
        assert done.returncode == 0, done.stderr[-2000:]
        assert "usage: python -m bench.soak" in done.stdout and "--seconds" in done.stdout
