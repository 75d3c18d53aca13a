"""Names end to end: a real Prometheus scrapes the exporter; a project renamed in the simulator
shows its new name in the dashboards' join within one names refresh, while its usage counters
continue unbroken: the same series (same labels), no reset, never lower than before."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.harness import config_file, exporter, http_json, prometheus, promql, simulator, wait_for

pytestmark = pytest.mark.e2e

KEY, ORG = "sk-admin-e2e-names", "org-e2e-names"
REFRESH = 3  # resource_interval (s)
JOIN = (
    'sum by (target, project_id, project_name) (openai_input_tokens_total{project_id="proj_beta"}'
    " * on (target, project_id) group_left (project_name) openai_project_info)"
)
COUNTER = 'openai_input_tokens_total{project_id="proj_beta"}'


def test_a_renamed_project_shows_its_new_name_and_its_counters_continue(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}={ORG}")) as sim:
        target = {
            "kind": "openai",
            "name": "oa",
            "base_url": sim.url,
            "api_key": KEY,
            "interval": "2s",
            "timeout": "2s",
            "backfill": "6h",
            "resource_interval": f"{REFRESH}s",
            "endpoints": ["completions"],
            "group_by": ["project_id", "model"],
        }
        config = config_file(tmp_path, target)
        exp = exporter(tmp_path, config)
        try:
            with prometheus(tmp_path, exp.url) as prom:

                def names() -> set[str]:
                    return {r["metric"].get("project_name", "") for r in promql(prom.url, JOIN)}

                wait_for(lambda: names() == {"Support bot"}, "the first name", timeout=60)
                before = {
                    tuple(sorted(r["metric"].items())): float(r["value"][1])
                    for r in promql(prom.url, COUNTER)
                }
                assert before
                http_json(
                    f"{sim.url}/_sim/openai/admin",
                    method="POST",
                    body={
                        "org": ORG,
                        "action": "rename_project",
                        "project_id": "proj_beta",
                        "name": "Helpdesk",
                    },
                )
                renamed = time.monotonic()
                wait_for(lambda: names() == {"Helpdesk"}, "the new name", timeout=30)
                # one refresh, plus the resource tick, a scrape and the query's staleness
                assert time.monotonic() - renamed < REFRESH + 2 + 5
                after = {
                    tuple(sorted(r["metric"].items())): float(r["value"][1])
                    for r in promql(prom.url, COUNTER)
                }
                assert set(after) == set(before)  # the same series: no label changed
                assert all(after[k] >= before[k] for k in before)
                resets = promql(prom.url, f"resets({COUNTER}[5m])")
                assert resets and all(float(r["value"][1]) == 0 for r in resets)
                # the old name is gone from the join, not kept beside the new one
                assert not promql(prom.url, 'openai_project_info{project_name="Support bot"}')
        finally:
            exp.stop()
