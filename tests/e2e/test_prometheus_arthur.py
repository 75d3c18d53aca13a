"""Arthur end to end: a real Prometheus scrapes the exporter polling the simulated engine; the
counters equal the engine's own totals per rule type and task, after late rule results landed
in windows the exporter had already read."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from exporter.vendors.arthur.source import FAMILIES
from tests.harness import (
    clock_in_the_past,
    created,
    exporter,
    http_json,
    prometheus,
    promql,
    settle,
    simulator,
    success_polls,
    wait_for,
)

pytestmark = pytest.mark.e2e

KEY = "arthur-e2e-key-5c1d"
FIELDS = {
    "inference": "arthur_inference_tokens_total",
    "eval_prompt": "arthur_eval_prompt_tokens_total",
    "eval_completion": "arthur_eval_completion_tokens_total",
}


def test_prometheus_counters_equal_engine_truth(tmp_path: Path) -> None:
    assert {f.name for f in FAMILIES} == set(FIELDS.values())
    with simulator(tmp_path, extra=("--arthur-key", f"{KEY}=engine-e2e")) as sim:
        clock_in_the_past(sim.url)
        http_json(
            f"{sim.url}/_sim/faults",
            method="POST",
            body={
                "upstream": "arthur",
                "faults": [
                    {"kind": "status", "status": 503, "count": 2},
                    {"kind": "truncate", "count": 1},
                ],
            },
        )
        config = tmp_path / "arthur.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n  - kind: arthur\n    name: guard\n"
            f"    base_url: {sim.url}\n    api_key: {KEY}\n    interval: 3s\n    timeout: 3s\n"
            "    window: 15m\n    backfill: 6h\n    group_by: [rule_type, task]\n"
        )
        exp = exporter(tmp_path, config)
        try:
            with prometheus(tmp_path, exp.url) as prom:
                wait_for(lambda: success_polls(exp.url) >= 2, "two polls", timeout=60)
                wait_for(
                    lambda: promql(prom.url, "sum(arthur_inference_tokens_total)"),
                    "Prometheus to scrape the first values",
                    timeout=30,
                )
                before = promql(prom.url, "sum(arthur_inference_tokens_total)")
                settle(sim.url, exp.url, prom.url)
                query = urllib.parse.urlencode(
                    [
                        ("engine", "engine-e2e"),
                        ("start", str(created(exp.url, "arthur_inference_tokens"))),
                        ("group_by", "rule_type"),
                        ("group_by", "task"),
                    ]
                )
                truth = http_json(f"{sim.url}/_sim/arthur/truth?{query}")["rows"]
                expected = {}
                for row in truth:
                    labels = {
                        k: v
                        for k, v in (
                            ("rule_type", row["group"]["rule_type"]),
                            ("task_id", row["group"]["task_id"]),
                        )
                        if v
                    }
                    for field, family in FIELDS.items():
                        if row["values"][field]:
                            expected[(family, frozenset(labels.items()))] = row["values"][field]
                got = {}
                for family in FIELDS.values():
                    for r in promql(prom.url, f'{family}{{target="guard"}}'):
                        labels = {
                            k: v for k, v in r["metric"].items() if k in ("rule_type", "task_id")
                        }
                        if float(r["value"][1]):
                            got[(family, frozenset(labels.items()))] = float(r["value"][1])
                assert len(expected) > 10
                assert got == expected
                late = promql(
                    prom.url, 'usage_exporter_bucket_revisions_total{direction="up",target="guard"}'
                )
                assert float(late[0]["value"][1]) > 0, "late rows should have landed"
                assert float(before[0]["value"][1]) < sum(
                    v for (f, _), v in expected.items() if f == FIELDS["inference"]
                )
        finally:
            assert exp.stop() == 0, "SIGTERM ends the daemon cleanly"
