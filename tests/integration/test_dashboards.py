"""The shipped Grafana dashboards: generated from `grafana/generate.py` and in sync with it,
uniform (datasource and target variables, units and descriptions on every panel, a grid without
overlaps), and valid against Grafana's own schema: each JSON is type-checked by TypeScript as
`satisfies Dashboard` from npm's `@grafana/schema`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import require_tool, run_to_end

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
CHECK = GRAFANA / "schema-check"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard["panels"])


def test_dashboards_are_generated_and_in_sync() -> None:
    done = run_to_end([sys.executable, str(GRAFANA / "generate.py"), "--check"])
    assert done.returncode == 0, done.stdout + done.stderr
    names = {p.stem for p in DASHBOARDS}
    assert names == {"spend", "openai", "anthropic", "telnyx", "arthur", "anylayer", "health"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_is_uniform(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["target"]["type"] == "query"
    assert variables["target"]["includeAll"] and variables["target"]["allValue"] == ".*"
    assert len({p["id"] for p in panels(dashboard)}) == len(panels(dashboard))
    cells: set[tuple[int, int]] = set()
    for panel in panels(dashboard):
        where = f"{path.stem}: {panel['title']}"
        assert panel["description"], where
        assert panel["fieldConfig"]["defaults"]["unit"], where
        assert panel["datasource"]["uid"] == "${datasource}", where
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), where
        used = {v for v in variables if f"${v}" in json.dumps(panel["targets"])}
        assert "target" in used, where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, where
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{where} overlaps another panel"
        cells |= mine


@pytest.fixture(scope="module")
def tsc() -> Path:
    binary = CHECK / "node_modules" / ".bin" / "tsc"
    if not binary.exists():
        npm = require_tool("npm")
        done = run_to_end(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock"], timeout=600, cwd=CHECK
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return binary


def typecheck(tsc: Path, sources: dict[str, str]) -> subprocess.CompletedProcess[str]:
    generated = CHECK / "generated"
    generated.mkdir(exist_ok=True)
    for old in generated.glob("*.ts"):
        old.unlink()
    for name, text in sources.items():
        (generated / f"{name}.ts").write_text(
            "import type { Dashboard } from '@grafana/schema';\n\n"
            "// The JSON form of a type: a TypeScript string enum is its string values once\n"
            '// serialized (ThresholdsMode.Absolute is "absolute" in a dashboard file).\n'
            "type Json<T> = T extends string ? `${T}`\n"
            "  : T extends number | boolean | null | undefined ? T\n"
            "  : T extends Array<infer U> ? Array<Json<U>>\n"
            "  : T extends object ? { [K in keyof T]: Json<T[K]> }\n"
            "  : T;\n\n"
            f"export const dashboard = {text.strip()} satisfies Json<Dashboard>;\n"
        )
    return subprocess.run(
        [str(tsc), "--project", str(CHECK / "tsconfig.json")],
        cwd=CHECK,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_every_dashboard_satisfies_grafanas_schema(tsc: Path) -> None:
    checked = typecheck(tsc, {p.stem: p.read_text() for p in DASHBOARDS})
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_rejects_a_malformed_dashboard(tsc: Path) -> None:
    """The check above is not vacuous: a misspelt field, a wrong type and a value outside an
    enum are each refused."""
    misspelt, wrong_type, outside_enum = (load(DASHBOARDS[0]) for _ in range(3))
    misspelt["graphTooltips"] = 1
    wrong_type["panels"][0]["gridPos"]["w"] = "wide"
    outside_enum["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolut"
    checked = typecheck(
        tsc,
        {
            "misspelt": json.dumps(misspelt),
            "wrong_type": json.dumps(wrong_type),
            "outside_enum": json.dumps(outside_enum),
        },
    )
    assert checked.returncode != 0
    errors = checked.stdout
    assert "misspelt.ts" in errors and '"graphTooltips"\' does not exist' in errors, errors
    assert "wrong_type.ts" in errors and "not assignable to type 'number'" in errors, errors
    assert "outside_enum.ts" in errors and '"absolut"' in errors, errors
