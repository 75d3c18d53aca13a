"""A real Prometheus scrapes the exporter polling the simulator; PromQL equals ground truth.

The simulator's clock starts 150 s in the past and then jumps to the present, so buckets the
exporter already counted rise (late data); pages are capped at four buckets (pagination), and the
first calls meet a 429 with Retry-After, a 503 and a failing page cursor. Once the clock is
frozen and the exporter has polled twice more, every OpenAI counter series in Prometheus must
equal the simulator's own total for it, exactly: with `api_source` grouping on, the decisions
endpoint, the 12h/30m cache-write split and billed cost quantities (costs grouped by user_id
through `overrides.costs.group_by`) included.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.harness import (
    clock_in_the_past,
    exporter,
    http_json,
    prometheus,
    promql,
    settle,
    simulator,
    success_polls,
    wait_for,
)
from tests.openai_truth import expected_series, write_config

pytestmark = pytest.mark.e2e

KEY = "sk-admin-e2e-0123456789"
COSTS_GROUP_BY = ["line_item", "api_key_id", "api_source", "user_id"]


def test_prometheus_counters_equal_simulator_truth(tmp_path: Path) -> None:
    with simulator(
        tmp_path, extra=("--openai-key", f"{KEY}=org-e2e", "--max-page-buckets", "4")
    ) as sim:
        clock_in_the_past(sim.url)
        http_json(
            f"{sim.url}/_sim/faults",
            method="POST",
            body={
                "upstream": "openai",
                "faults": [
                    {
                        "kind": "status",
                        "status": 429,
                        "retry_after": 1,
                        "path_contains": "completions",
                        "count": 1,
                    },
                    {"kind": "status", "status": 503, "path_contains": "costs", "count": 1},
                    {"kind": "page_error", "path_contains": "embeddings", "count": 1},
                ],
            },
        )
        config = write_config(
            tmp_path,
            sim.url,
            KEY,
            name="e2e-org",
            extra=f"    overrides: {{costs: {{group_by: [{', '.join(COSTS_GROUP_BY)}]}}}}\n",
        )
        exp = exporter(tmp_path, config)
        try:
            with prometheus(tmp_path, exp.url) as prom:
                wait_for(lambda: success_polls(exp.url) >= 3, "three successful polls", timeout=60)
                stats = http_json(f"{sim.url}/_sim/stats")
                assert sum(stats["faults_injected"].values()) >= 3, stats

                settle(sim.url, exp.url, prom.url)

                expected = expected_series(
                    sim.url, exp.url, "org-e2e", "e2e-org", overrides={"costs": COSTS_GROUP_BY}
                )
                assert len(expected) > 50, "the simulator should produce many series"
                assert_covers_the_api_as_it_is_today(expected)
                compare(prom.url, expected)

                throttled = promql(
                    prom.url,
                    'sum(usage_exporter_upstream_requests_total{code="429",target="e2e-org"})',
                )
                assert float(throttled[0]["value"][1]) >= 1, "the 429 should have been met"
                pages = http_json(f"{sim.url}/_sim/stats")["requests"]
                completions = pages.get("/v1/organization/usage/completions", 0)
                # the first poll reads 25 hourly buckets at 4 a page: 7 pages (+1 for the 429)
                assert completions >= 8, pages

                revisions = promql(
                    prom.url,
                    'usage_exporter_bucket_revisions_total{direction="up",target="e2e-org"}',
                )
                assert float(revisions[0]["value"][1]) > 0, "late data should have been seen"
        finally:
            exp.stop()


def assert_covers_the_api_as_it_is_today(
    expected: dict[tuple[str, frozenset[tuple[str, str]]], float],
) -> None:
    """The truth being compared holds what the newer API adds, so the comparison covers it."""
    families = {name for name, _ in expected}
    assert {
        "openai_input_cache_write_12h_tokens_total",
        "openai_input_cache_write_30m_tokens_total",
        "openai_cost_quantity_total",
    } <= families
    labels = [dict(lb) for _, lb in expected]
    assert {lb.get("endpoint") for lb in labels} >= {"completions", "decisions"}
    assert {lb.get("api_source") for lb in labels} >= {"agents_api", "unlabeled"}
    assert {lb.get("user_id") for lb in labels} >= {"user-ana", "user-bo"}
    units = {dict(lb)["quantity_unit"] for n, lb in expected if n == "openai_cost_quantity_total"}
    assert units == {"1000_tokens", "tokens", "calls"}
    for family in ("openai_input_cache_write_tokens_total", "openai_model_requests_total"):
        assert any(
            n == family and dict(lb)["endpoint"] == "decisions" and v > 0
            for (n, lb), v in expected.items()
        ), family


def compare(prom_url: str, expected: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> None:
    families = sorted({name for name, _ in expected})
    mismatches: list[str] = []
    for family in families:
        got: dict[frozenset[tuple[str, str]], float] = {}
        for row in promql(prom_url, f'{family}{{target="e2e-org"}}'):
            metric = {
                k: v for k, v in row["metric"].items() if k not in ("__name__", "job", "instance")
            }
            got[frozenset(metric.items())] = float(row["value"][1])
        # Prometheus stores a label with the empty value as an absent label.
        want = {
            frozenset((k, v) for k, v in labels if v != ""): value
            for (name, labels), value in expected.items()
            if name == family
        }
        for labels, value in want.items():
            actual = got.get(labels)
            if actual is None or not _equal(actual, value):
                mismatches.append(f"{family}{dict(labels)}: prometheus {actual}, truth {value}")
        for labels, value in got.items():
            if labels not in want and value != 0:
                mismatches.append(f"{family}{dict(labels)}: {value} in prometheus, not in truth")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:40])


def _equal(actual: float, expected: float) -> bool:
    if float(expected).is_integer():
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
