"""The FinOps Foundation's validator (focus-validator 2.2.1, FOCUS 1.2, `--block-download`
behaviour through its API) accepts the datasets the exporter writes: the demo's month after it
ran (its OpenAI and Anthropic targets), as CSV and Parquet, fetched over HTTP and written by
`usage-exporter focus` while the daemon runs; and a dataset with Correction rows. It rejects a
broken file, so its verdict can fail. The validator runs in its own Python 3.12 venv
(tests/focus_validation.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from exporter.focus.columns import CORRECTION
from exporter.focus.export import FocusExport
from exporter.focus.writers import chunks
from tests import synthetic_costs
from tests.focus_checks import billed, parse_csv, problems
from tests.focus_validation import describe, failures, rule_results
from tests.harness import (
    HOST,
    Process,
    exporter_argv,
    free_port,
    http,
    parse_samples,
    scrape,
    start,
    success_polls,
    wait_for,
)

MONTH = time.strftime("%Y-%m", time.gmtime())
OPENAI = ("acme-prod", "acme-research")
ANTHROPIC = {"anthropic-console": "admin", "anthropic-analytics": "analytics"}


def workspace_names(exposition: str, target: str) -> dict[str, str]:
    """An Anthropic target's workspace names as it exports them (`anthropic_workspace_info`)."""
    return {
        dict(labels)["workspace_id"]: dict(labels)["workspace_name"]
        for (name, labels), _ in parse_samples(exposition).items()
        if name == "anthropic_workspace_info" and ("target", target) in labels
    }


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The demo, run until its OpenAI and Anthropic organizations were polled twice and the
    Anthropic workspace names read; its month fetched over HTTP (CSV, Parquet) and written by
    the CLI while it runs; its exposition kept (the names as exported)."""
    tmp = tmp_path_factory.mktemp("focus-demo")
    state = tmp / "state"
    port = free_port()
    argv = exporter_argv(
        "demo", "--web.listen-address", f"{HOST}:{port}", "--state-dir", str(state)
    )
    demo: Process = start("demo", argv, tmp / "demo.log", f"http://{HOST}:{port}", "/healthz")
    try:
        for target in (*OPENAI, *ANTHROPIC):
            wait_for(lambda t=target: success_polls(demo.url, t) >= 2, f"{target} polled twice")
        for target in ANTHROPIC:  # the workspaces listing, read on its own schedule
            wait_for(
                lambda t=target: workspace_names(scrape(demo.url), t), f"{target}'s workspaces"
            )
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
        files["metrics"] = tmp / "metrics.txt"
        files["metrics"].write_text(scrape(demo.url))
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
        assert {r["BillingAccountId"] for r in rows} >= {*OPENAI, *ANTHROPIC}
        assert not [r for r in rows if r["ChargeClass"] == CORRECTION]
        # project names from the names listing, not the ids
        assert any(r["SubAccountName"] and r["SubAccountName"] != r["SubAccountId"] for r in rows)
        assert {r["PricingUnit"] for r in rows} >= {"Tokens", "1000 Tokens"}


def test_the_demo_dataset_holds_anthropic_as_its_mapping_says(
    demo_export: dict[str, Path],
) -> None:
    """Both Anthropic APIs: the workspace as sub-account named from its listing (the null
    workspace as `default`, named too), the SKU and `x_` columns from the cost labels, the
    amount billed as the quantity in USD, and ListCost the Analytics API's list price (the
    legacy API has none: what is billed)."""
    rows = parse_csv(demo_export["http-csv"].read_bytes())
    exposition = demo_export["metrics"].read_text()
    for target, api in ANTHROPIC.items():
        own = [r for r in rows if r["BillingAccountId"] == target]
        assert own, target
        names = workspace_names(exposition, target)
        assert {r["SubAccountId"] for r in own} >= {"default"}
        assert len({r["SubAccountId"] for r in own}) > 1
        for row in own:
            assert row["SubAccountName"] == names[row["SubAccountId"]], row
            assert row["ProviderName"] == row["PublisherName"] == "Anthropic"
            assert row["InvoiceIssuerName"] == "Anthropic" and row["ServiceName"] == "Claude API"
            assert row["x_CostType"], row
            # a model and token type only on token costs; "not applicable" is empty, never a
            # placeholder value
            assert bool(row["x_Model"]) is (row["x_CostType"] == "tokens"), row
            assert "none" not in row.values(), row
            assert row["SkuId"] == "/".join(
                v for v in (row["x_Model"], row["x_CostType"], row["x_TokenType"]) if v
            )
            assert row["ChargeDescription"] == row["SkuId"]
            assert (row["PricingQuantity"], row["PricingUnit"]) == (row["BilledCost"], "USD")
            assert not row["x_LineItem"]  # OpenAI's column, empty here
            # grouped by API key on the Analytics API only (the legacy cost report cannot)
            assert bool(row["x_ApiKeyId"]) is (api == "analytics"), row
            if api == "admin":
                assert row["ListCost"] == row["BilledCost"]
                tokens = row["x_CostType"] == "tokens"
                assert bool(row["x_ServiceTier"] and row["x_ContextWindow"]) is tokens, row
            else:
                assert Decimal(row["ListCost"]) >= Decimal(row["BilledCost"]), row
        if api == "analytics":
            assert billed(own, "ListCost") > billed(own), "no discount in the twin's list price"
    assert not [r for r in rows if r["BillingAccountId"] in OPENAI and r["x_Model"]]


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
