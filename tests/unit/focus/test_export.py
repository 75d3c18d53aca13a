"""The export's pieces: decimals written exactly as the ledger holds them, ASCII strings, FOCUS
units, months refused with the right status, the dataset's layout, and the command line's
errors (a bad month, Parquet without pyarrow, no state file)."""

from __future__ import annotations

import calendar
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import exporter.cli.main as cli
from exporter.focus import columns as c
from exporter.focus.export import FocusExport
from exporter.focus.writers import chunks
from tests import synthetic_costs
from tests.focus_checks import billed, parse_csv, problems


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (500000.0, "500000.0"),
        (0.1, "0.1"),
        (1e-07, "0.0000001"),
        (12.020019999999999, "12.020019999999999"),
        (-0.05, "-0.05"),
        (-0.0, "0.0"),
        (1.5e20, "150000000000000000000.0"),
    ],
)
def test_decimals_are_the_ledger_floats_exactly(value: float, text: str) -> None:
    assert c.decimal_text(value) == text
    assert float(text) == value  # nothing rounded away


def test_strings_units_and_months() -> None:
    assert c.ascii_text("R\u00e9cherche \u6570\u636e\n") == "Recherche ?? "
    assert c.focus_unit("1000_tokens") == "1000 Tokens"
    assert c.focus_unit("tokens") == "Tokens"
    assert c.focus_unit("gibibyte_hours") == "Gibibyte Hours"
    assert c.focus_unit("per 1M!") == ""  # not writable in FOCUS's unit format
    assert c.parse_month("2026-02") == calendar.timegm((2026, 2, 1, 0, 0, 0))
    for bad in ("2026-2", "2026-00", "26-01", "2026-01-01", ""):
        with pytest.raises(c.MonthError) as refused:
            c.parse_month(bad)
        assert refused.value.status == 400


def test_the_dataset_of_a_month_with_a_correction(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    synthetic_costs.build(path).close()
    export = FocusExport(path, clock=lambda: float(synthetic_costs.DEC + 4 * 86400))
    closed = b"".join(
        chunks(export.dataset(synthetic_costs.month_text(synthetic_costs.NOV)), "csv")
    )
    current = b"".join(
        chunks(export.dataset(synthetic_costs.month_text(synthetic_costs.DEC)), "csv")
    )
    for data in (closed, current):
        assert problems(data) == []
    old, new = parse_csv(closed), parse_csv(current)
    corrections = [r for r in new if r["ChargeClass"] == "Correction"]
    assert not [r for r in old if r["ChargeClass"]]
    assert len(corrections) == len(synthetic_costs.ITEMS)
    # the last day grew by 10 %: each correction is exactly a tenth of what was billed
    last = [r for r in old if r["ChargePeriodEnd"] == corrections[0]["ChargePeriodEnd"]]
    assert billed(corrections) * 10 == billed(last)
    assert {r["SubAccountName"] for r in new} == {"Recherche", "Ops"}
    units = {r["x_LineItem"]: r["PricingUnit"] for r in old}
    assert units == {
        "gpt-4o-mini, input": "1000 Tokens",
        "web search tool calls": "Calls",
        "gpt-4.1, input": "Tokens",
    }
    assert all(Decimal(r["PricingQuantity"]) > 0 for r in old)


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\nsources:\n  - kind: openai\n    name: a\n"
        "    api_key: ${NOT_NEEDED_BY_FOCUS}\n"
    )
    return path


def test_the_command_line_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = config(tmp_path)
    assert cli.main(["focus", "--config", str(conf), "--month", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert cli.main(["focus", "--config", str(conf), "--month", "2026-11"]) == 1
    assert "no state file" in capsys.readouterr().err
    (tmp_path / "state").mkdir()
    synthetic_costs.build(tmp_path / "state" / "ledger.sqlite").close()
    month = synthetic_costs.month_text(synthetic_costs.DEC)
    out = tmp_path / "out.parquet"
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    argv = ["focus", "--config", str(conf), "--month", month, "--format", "parquet"]
    assert cli.main([*argv, "--output", str(out)]) == 2
    assert "pip install 'usage-exporter[parquet]'" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.delitem(sys.modules, "pyarrow")
    assert cli.main([*argv, "--output", str(out)]) == 0
    assert out.read_bytes()[:4] == b"PAR1"
