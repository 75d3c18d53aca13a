"""Every earlier state file gains the daily cost history: 0.1.0's (schema 1, the committed
fixture) and schema-2 and schema-3 files are migrated to schema 4, and the cost days they
still hold (the current month's, as the fixture's month-to-date counters say) are exported
exactly."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

import exporter.ledger.schema as schema_module
from exporter.focus.export import FocusExport
from exporter.focus.writers import chunks
from exporter.ledger import SCHEMA_VERSION, Ledger
from exporter.vendors import plugin
from tests.focus_checks import parse_csv, problems
from tests.harness import parse_samples
from tests.state_files import schema_version

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "state-0.1.0"
T_END = int(json.loads((FIXTURE / "MANIFEST.json").read_text())["t_end"])  # 2026-09-21
TARGET = "fixture-openai"


def schema_1(path: Path) -> None:
    shutil.copyfile(FIXTURE / "ledger.sqlite", path)


def migrated_up_to(version: int) -> Callable[[Path], None]:
    """The fixture migrated by a version that knew schema `version` and nothing later."""

    def make(path: Path) -> None:
        schema_1(path)
        known = {n: m for n, m in schema_module.MIGRATIONS.items() if n <= version}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(schema_module, "MIGRATIONS", known)
            patch.setattr(schema_module, "SCHEMA_VERSION", version)
            Ledger(path).close()
        assert schema_version(path) == version

    return make


def september_costs() -> dict[tuple[str, str], Decimal]:
    """The fixture's cost counters: their origin is 1 September (costs count from the month's
    start), so each is that series' September total."""
    samples = parse_samples((FIXTURE / "exposition.prom").read_text())
    return {
        (dict(labels)["project_id"], dict(labels)["line_item"]): Decimal(repr(value))
        for (name, labels), value in samples.items()
        if name == "openai_cost_usd_total"
    }


@pytest.mark.parametrize(
    "make",
    [schema_1, migrated_up_to(2), migrated_up_to(3)],
    ids=["schema-1 (0.1.0)", "schema-2", "schema-3"],
)
def test_an_older_state_file_exports_its_cost_days(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "ledger.sqlite"
    make(path)
    before = schema_version(path)
    ledger = Ledger(path, clock=lambda: float(T_END))
    ledger.declare(TARGET, plugin("openai").families)
    ledger.close()
    assert schema_version(path) == SCHEMA_VERSION == 4
    assert (tmp_path / f"ledger.sqlite.schema-{before}.backup").exists()

    export = FocusExport(path, clock=lambda: float(T_END))
    data = b"".join(chunks(export.dataset("2026-09"), "csv"))
    assert problems(data) == []
    rows = parse_csv(data)
    assert {r["BillingAccountId"] for r in rows} == {TARGET}
    totals: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        key = (row["SubAccountId"], row["x_LineItem"])
        totals[key] = totals.get(key, Decimal(0)) + Decimal(row["BilledCost"])
    expected = september_costs()
    assert totals.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(totals[key] - value) <= Decimal("1e-9"), key
    days = {r["ChargePeriodStart"] for r in rows}
    # the twin's usage began on 16 September; the fixture ends on the 21st
    assert min(days) == "2026-09-16T00:00:00Z" and max(days) == "2026-09-21T00:00:00Z"
