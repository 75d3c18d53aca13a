"""Each of the daemon's two processes imports what it runs, and its memory is what it holds
(bench/RESULTS.md, round three): the daemon's process no HTTP server when the listener process
serves (the default), the listener process neither the renderer, prometheus_client nor the
daemon. Checked at run time in a fresh interpreter (the import-linter contract in
pyproject.toml checks the listener's statically)."""

from __future__ import annotations

import pytest

from tests.harness import imported_by


@pytest.mark.parametrize(
    ("process", "modules", "absent"),
    [
        (
            "the daemon's",
            ("exporter.cli.main", "exporter.cli.process", "exporter.daemon"),
            {"uvicorn", "starlette.applications", "exporter.http.server"},
        ),
        (
            "the listener's",
            ("exporter.http.listener_main",),
            {"prometheus_client", "exporter.exposition.render", "exporter.daemon"},
        ),
    ],
)
def test_a_process_imports_what_it_runs(
    process: str, modules: tuple[str, ...], absent: set[str]
) -> None:
    found = imported_by(*modules)
    assert set(modules) <= found, process
    assert not absent & found, process
