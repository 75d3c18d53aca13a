"""The daemon does one job: it imports nothing of the command layer (`cli`, `commands`,
`process`, `demo`), directly or through another module, lazy imports included, so no import
cycle runs through it (issue 13: `daemon` and `demo` used to import each other)."""

from __future__ import annotations

import ast
from pathlib import Path

import exporter

PACKAGE = Path(exporter.__file__).parent
COMMAND_LAYER = {"exporter.cli", "exporter.commands", "exporter.process", "exporter.demo"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports, anywhere in its body."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def test_the_daemon_imports_nothing_of_the_command_layer() -> None:
    graph = imports()
    assert "exporter.daemon" in graph and "exporter.ledger" in graph["exporter.daemon"]
    below = reachable(graph, "exporter.daemon")
    assert not below & COMMAND_LAYER, sorted(below & COMMAND_LAYER)
    assert "exporter.daemon" not in below, "an import cycle runs through exporter.daemon"


def test_the_command_layer_uses_the_daemon() -> None:
    graph = imports()
    for name in ("exporter.commands", "exporter.process", "exporter.demo"):
        assert "exporter.daemon" in reachable(graph, name), name
