"""The markers `tests/conftest.py` gives by directory, and the `slow` list naming real tests."""

from __future__ import annotations

import ast

from tests.conftest import SLOW, TESTS, markers_of


def test_markers_follow_the_directory_and_the_slow_list() -> None:
    assert markers_of("unit/ledger/test_ledger.py::test_x") == ("unit",)
    assert markers_of("meta/test_markers.py::test_x") == ("unit",)
    fuzz = "unit/vendors/test_parsers_fuzz.py::test_arbitrary_json_never_crashes_a_parser"
    assert markers_of(fuzz) == ("unit", "slow")
    assert markers_of("integration/test_reload.py::test_x[a]") == ("integration",)
    assert markers_of("conformance/test_drift.py::test_x") == ("conformance", "integration")
    assert markers_of("e2e/test_sharded.py::test_x") == ("e2e", "slow")
    soak = "integration/test_fault_soak.py::test_seeded_fault_soak_keeps_every_counter_exact"
    assert markers_of(soak) == ("integration", "slow")
    assert markers_of(soak + "_too") == ("integration",)
    case = "conformance/test_simulator_bodies.py::test_openai_every_group_by_width_and_page"
    assert "slow" in markers_of(case + "[completions]")
    assert "slow" not in markers_of(case + "[images]")


def test_every_slow_entry_names_a_test_that_exists() -> None:
    for entry in SLOW:
        file, _, test = entry.partition("::")
        path = TESTS / file
        assert path.is_file(), entry
        if test:
            name = test.partition("[")[0]
            defined = {
                node.name
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert name in defined, entry
