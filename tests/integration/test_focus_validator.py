"""The FinOps Foundation's validator (focus-validator 2.2.1, FOCUS 1.2, `--block-download`
behaviour through its API) accepts the datasets the exporter writes: the demo's month after it
ran, as CSV and Parquet, fetched over HTTP and written by `usage-exporter focus` while the
daemon runs; and a dataset with Correction rows. It rejects a broken file, so its verdict can
fail. The validator runs in its own Python 3.12 venv (tests/focus_validation.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.focus.columns import CORRECTION
from exporter.focus.export import FocusExport
from exporter.focus.writers import chunks
from tests import synthetic_costs
from tests.focus_checks import parse_csv, problems
from tests.focus_validation import describe, failures, rule_results
from tests.harness import (
    HOST,
    Process,
    exporter_argv,
    free_port,
    http,
    start,
    success_polls,
    wait_for,
)

MONTH = time.strftime("%Y-%m", time.gmtime())


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The demo, run until both OpenAI organizations were polled and their project names read;
    its month fetched over HTTP (CSV, Parquet) and written by the CLI while it runs."""
    tmp = tmp_path_factory.mktemp("focus-demo")
    state = tmp / "state"
    port = free_port()
    argv = exporter_argv(
        "demo", "--web.listen-address", f"{HOST}:{port}", "--state-dir", str(state)
    )
    demo: Process = start("demo", argv, tmp / "demo.log", f"http://{HOST}:{port}", "/healthz")
    try:
        for target in ("acme-prod", "acme-research"):
            wait_for(lambda t=target: success_polls(demo.url, t) >= 2, f"{target} polled twice")
        files: dict[str, Path] = {}
        for fmt in ("csv", "parquet"):
            status, body, _ = http(f"{demo.url}/focus/v1.2/cost-and-usage.{fmt}?month={MONTH}")
            assert status == 200, body[:300]
            files[f"http-{fmt}"] = tmp / f"demo.{fmt}"
            files[f"http-{fmt}"].write_bytes(body)
        config = tmp / "focus.yaml"
        config.write_text(
            f"state_dir: {state}\nsources:\n  - kind: openai\n    name: acme-prod\n"
            "    api_key: ${UNSET_KEY_THE_EXPORT_DOES_NOT_NEED}\n"
        )
        files["cli-csv"] = tmp / "cli.csv"
        done = subprocess.run(
            exporter_argv(
                "focus",
                "--config",
                str(config),
                "--month",
                MONTH,
                "--output",
                str(files["cli-csv"]),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        demo.check()  # still running: the export read beside it
        yield files
    finally:
        demo.stop()


def test_the_demo_dataset_passes_the_checks_the_validator_misses(
    demo_export: dict[str, Path],
) -> None:
    for name in ("http-csv", "cli-csv"):
        data = demo_export[name].read_bytes()
        assert problems(data) == [], name
        rows = parse_csv(data)
        assert {r["BillingAccountId"] for r in rows} >= {"acme-prod", "acme-research"}
        assert not [r for r in rows if r["ChargeClass"] == CORRECTION]
        # project names from the names listing, not the ids
        assert any(r["SubAccountName"] and r["SubAccountName"] != r["SubAccountId"] for r in rows)
        assert {r["PricingUnit"] for r in rows} >= {"Tokens", "1000 Tokens"}


@pytest.mark.parametrize("name", ["http-csv", "http-parquet", "cli-csv"])
def test_the_validator_accepts_the_demo_dataset(demo_export: dict[str, Path], name: str) -> None:
    results = rule_results(demo_export[name])
    assert len(results) > 500, "the validator ran almost no rule"
    failed = failures(results)
    assert failed == [], describe(results, failed)


def test_the_validator_accepts_corrections(tmp_path: Path) -> None:
    synthetic_costs.build(tmp_path / "ledger.sqlite").close()
    export = FocusExport(
        tmp_path / "ledger.sqlite", clock=lambda: float(synthetic_costs.DEC + 4 * 86400)
    )
    data = b"".join(chunks(export.dataset(synthetic_costs.month_text(synthetic_costs.DEC)), "csv"))
    assert problems(data) == []
    assert [r for r in parse_csv(data) if r["ChargeClass"] == CORRECTION]
    path = tmp_path / "corrections.csv"
    path.write_bytes(data)
    results = rule_results(path)
    failed = failures(results)
    assert failed == [], describe(results, failed)


def test_the_validator_rejects_a_broken_file(demo_export: dict[str, Path], tmp_path: Path) -> None:
    """A ChargeCategory of `Refund` in every row: invalid FOCUS, and the verdict says so."""
    text = demo_export["http-csv"].read_text()
    broken = tmp_path / "broken.csv"
    broken.write_text(text.replace(",Usage,", ",Refund,"))
    results = rule_results(broken)
    assert any(r.startswith("ChargeCategory") for r in failures(results)), failures(results)
    assert problems(broken.read_bytes())


def test_our_checks_catch_what_the_validator_misses(
    demo_export: dict[str, Path], tmp_path: Path
) -> None:
    """Dates without `T` and `Z` pass the validator (it parses them); a single bad enumeration
    value among good rows too (focus.md). The project's own checks fail both."""
    text = demo_export["http-csv"].read_text()
    spaced = tmp_path / "spaced-dates.csv"
    spaced.write_text(text.replace("T00:00:00Z", " 00:00:00"))
    assert failures(rule_results(spaced)) == []  # the validator's gap, as documented
    assert any("no FOCUS date" in p for p in problems(spaced.read_bytes()))
    header, first, *rest = text.splitlines(keepends=True)
    one_bad = header + first.replace(",Usage,", ",Refund,") + "".join(rest)
    assert any("ChargeCategory 'Refund'" in p for p in problems(one_bad.encode()))
    accented = header + first.replace("acme-prod", "acm\u00e9-prod", 1) + "".join(rest)
    assert "the file is not ASCII" in problems(accented.encode("utf-8"))
