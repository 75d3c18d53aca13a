"""A real Prometheus scrapes the exporter polling the simulator; PromQL equals ground truth.

The simulator's clock starts 150 s in the past and then jumps to the present, so buckets the
exporter already counted rise (late data); pages are capped at four buckets (pagination), and the
first calls meet a 429 with Retry-After, a 503 and a failing page cursor. Once the clock is
frozen and the exporter has polled twice more, every OpenAI counter series in Prometheus must
equal the simulator's own total for it, exactly.
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
        config = write_config(tmp_path, sim.url, KEY, name="e2e-org")
        exp = exporter(tmp_path, config)
        try:
            with prometheus(tmp_path, exp.url) as prom:
                wait_for(lambda: success_polls(exp.url) >= 3, "three successful polls", timeout=60)
                stats = http_json(f"{sim.url}/_sim/stats")
                assert sum(stats["faults_injected"].values()) >= 3, stats

                settle(sim.url, exp.url, prom.url)

                expected = expected_series(sim.url, exp.url, "org-e2e", "e2e-org")
                assert len(expected) > 50, "the simulator should produce many series"
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


def compare(prom_url: str, expected: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> None:
    families = sorted({name for name, _ in expected})
    mismatches: list[str] = []
    for family in families:
        got: dict[frozenset[tuple[str, str]], float] = {}
        for row in promql(prom_url, f'{family}{{target="e2e-org"}}'):
            labels = {
                k: v for k, v in row["metric"].items() if k not in ("__name__", "job", "instance")
            }
            got[frozenset(labels.items())] = float(row["value"][1])
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
