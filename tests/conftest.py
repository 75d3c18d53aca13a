"""Shared set-up of the test suite.

- Markers by directory: tests/unit (tests of the package, laid out as it is) and tests/meta
  (tests of the repository's conventions) are `unit`, tests/integration `integration`,
  tests/e2e `e2e`, tests/conformance `conformance` and `integration` (it runs real simulator
  processes); the long tests listed in `SLOW` are `slow` as well. Select with `-m unit`,
  `-m "not slow"`.
- Hypothesis keeps its example database (and its other files) in a temporary directory, not in
  `.hypothesis/` of the working tree.
- Every test leaves the root logger as it found it (the CLI configures it).
- Under pytest-xdist (`make test` runs the process suites on several workers with
  `--dist loadgroup`), the tests of a file that declares a module- or session-scoped fixture
  stay on one worker (`xdist_group` by file), so the fixture is made once; every other test goes
  wherever a worker is free.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

TESTS = Path(__file__).resolve().parent

BY_DIRECTORY = {
    "unit": ("unit",),
    "meta": ("unit",),
    "integration": ("integration",),
    "e2e": ("e2e",),
    "conformance": ("conformance", "integration"),
}

# Tests of more than ~20 s (`pytest --durations=40` of the whole suite on the 2-core development
# machine, busy: from 20 s for the scrape benchmark's smoke run to 68 s for the sharded e2e);
# `slow` adds to the directory's marker. A file, a test or one parametrised case.
SLOW = {
    "unit/vendors/test_parsers_fuzz.py::test_arbitrary_json_never_crashes_a_parser",
    "integration/test_fault_soak.py::test_seeded_fault_soak_keeps_every_counter_exact",
    "integration/test_rules.py::test_rules_are_valid_and_their_unit_tests_pass",
    "integration/test_demo.py::test_demo_shows_every_family_moving_and_lint_clean",
    "integration/test_proxy_tls.py::test_tls_options_and_proxies",
    "integration/test_crash_safety.py::test_sigkill_at_random_moments_across_many_polls",
    "integration/test_reload.py::test_sighup_adds_keeps_and_drops_targets_with_exact_counters",
    "integration/test_bench_scrape_smoke.py",
    "integration/test_focus_validator.py",
    "conformance/test_simulator_bodies.py::test_openai_every_group_by_width_and_page[completions]",
    "e2e/test_sharded.py",
    "e2e/test_shipped_queries.py::test_every_panel_variable_and_rule_query_returns_data",
    "e2e/test_prometheus_vendors.py",
}

# One Hypothesis home per working tree, outside it: a failing example is replayed on the next
# run, and `git status` stays clean.
_worktree = hashlib.sha256(str(TESTS.parent).encode()).hexdigest()[:12]
HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / f"usage-exporter-hypothesis-{_worktree}"
set_hypothesis_home_dir(HYPOTHESIS_HOME)
settings.register_profile(
    "usage-exporter", database=DirectoryBasedExampleDatabase(HYPOTHESIS_HOME / "examples")
)
settings.load_profile("usage-exporter")


def markers_of(relative: str) -> tuple[str, ...]:
    """The markers a test gets from where it lives; `relative` is its node id under tests/."""
    directory = relative.split("/", 1)[0]
    slow = any(relative == s or relative.startswith((s + "::", s + "[")) for s in SLOW)
    return BY_DIRECTORY.get(directory, ()) + (("slow",) if slow else ())


SHARED_FIXTURE = re.compile(r"""scope\s*=\s*["'](module|package|session)["']""")


def shares_a_fixture(path: Path, seen: dict[Path, bool] = {}) -> bool:  # noqa: B006 (a cache)
    """Whether the test file declares a fixture that outlives one test."""
    if path not in seen:
        seen[path] = bool(SHARED_FIXTURE.search(path.read_text()))
    return seen[path]


@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        relative = item.path.relative_to(TESTS).as_posix() + item.nodeid.partition(".py")[2]
        for name in markers_of(relative):
            item.add_marker(name)
        if shares_a_fixture(item.path):
            item.add_marker(pytest.mark.xdist_group(relative.partition("::")[0]))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {
        name: logging.getLogger(name).level
        for name in ("httpx", "httpcore", "uvicorn", "uvicorn.error", "apscheduler")
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
