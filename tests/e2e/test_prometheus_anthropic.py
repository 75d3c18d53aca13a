"""Anthropic end to end: a real Prometheus scrapes the exporter polling the simulated legacy
Usage & Cost Admin API (`api: admin`). After late data (the clock jumps from the past to the
present), pagination (three buckets a page) and a 429 with Retry-After, every token and cost
counter Prometheus holds equals the twin's ground truth (costs within 1e-6 USD of the Decimal sum
of the cents), and the budget and period gauges are there."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from exporter.config.load import load_config
from exporter.simulator.compare import counters
from exporter.vendors import plugin
from tests.harness import (
    clock_in_the_past,
    exporter,
    http_json,
    prometheus,
    promql,
    scrape,
    settle,
    simulator,
    success_polls,
    wait_for,
)

pytestmark = pytest.mark.e2e

KEY, ORG = "sk-ant-admin01-e2e-0123", "org-e2e"


def test_prometheus_counters_equal_the_anthropic_twin(tmp_path: Path) -> None:
    extra = ("--anthropic-key", f"{KEY}={ORG}", "--max-page-buckets", "3")
    with simulator(tmp_path, extra=extra) as sim:
        clock_in_the_past(sim.url)
        http_json(
            f"{sim.url}/_sim/faults",
            method="POST",
            body={
                "upstream": "anthropic",
                "faults": [{"kind": "status", "status": 429, "retry_after": 1}],
            },
        )
        config = tmp_path / "anthropic.yaml"
        source = {
            "kind": "anthropic",
            "name": "claude",
            "base_url": sim.url,
            "api_key": KEY,
            "interval": "4s",
            "timeout": "3s",
            "bucket_width": "1h",
            "backfill": "2d",
            "group_by": ["workspace_id", "api_key_id", "model", "service_tier"],
            "cost_group_by": ["workspace_id", "description"],
            "monthly_budget_usd": 500,
            "resources": {"workspaces": False, "api_keys": False, "users": False},
        }
        state = str(tmp_path / "state")
        config.write_text(yaml.safe_dump({"state_dir": state, "sources": [source]}))
        exp = exporter(tmp_path, config)
        try:
            with prometheus(tmp_path, exp.url) as prom:
                wait_for(lambda: success_polls(exp.url) >= 2, "two polls", timeout=60)
                settle(sim.url, exp.url, prom.url)
                got = counters(scrape(exp.url, openmetrics=True), "claude")
                anthropic = plugin("anthropic")
                expected = anthropic.twin.oracle()
                assert expected is not None
                target = load_config(config).sources[0]
                truth = {k: v for k, v in expected(sim.url, target, ORG, got).items() if v}
                families = {k[0] for k in truth}
                assert "anthropic_cost_usd_total" in families and len(families) >= 6, families
                for (family, labels), value in truth.items():
                    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
                    result = promql(prom.url, f'{family}{{target="claude",{selector}}}')
                    assert len(result) == 1, (family, labels)
                    held = float(result[0]["value"][1])
                    if family == "anthropic_cost_usd_total":
                        assert math.isclose(held, value, rel_tol=0, abs_tol=1e-6), (labels, held)
                    else:
                        assert held == value, (family, labels, held, value)
                counted = promql(
                    prom.url, 'count({__name__=~"anthropic_.*_total",target="claude"})'
                )
                assert int(counted[0]["value"][1]) == len(truth), "no series beyond the truth"
                budget = promql(prom.url, 'anthropic_cost_budget_usd{target="claude"}')
                assert float(budget[0]["value"][1]) == 500
                for gauge in ("anthropic_cost_today_usd", "anthropic_cost_month_to_date_usd"):
                    assert promql(prom.url, f'sum({gauge}{{target="claude"}})'), gauge
                asked = http_json(f"{sim.url}/_sim/requests")["requests"]
                paged = [r for r in asked if "usage_report" in r["path"] and "page=" in r["query"]]
                assert paged, "the exporter followed next_page"
                stats = http_json(f"{sim.url}/_sim/stats")
                assert stats["faults_injected"] == {"status": 1}
                for query in (
                    'sum(usage_exporter_upstream_requests_total{target="claude",code="429"})',
                    'usage_exporter_bucket_revisions_total{direction="up",target="claude"}',
                ):
                    assert float(promql(prom.url, query)[0]["value"][1]) > 0, query
        finally:
            assert exp.stop() == 0
