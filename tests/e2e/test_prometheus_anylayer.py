"""Anylayer end to end: a real Prometheus scrapes the exporter polling the simulated "Get Usage";
counters equal the simulator's totals per key after late data, pagination and a 429; gauges equal
the simulator's last response (converted to base units). The exporter runs with
`--web.listener-process`: Prometheus scrapes the listener process (the other vendors' tests
scrape one process)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from tests.harness import (
    clock_in_the_past,
    created,
    exporter,
    http,
    http_json,
    prometheus,
    promql,
    settle,
    simulator,
    success_polls,
    wait_for,
)

pytestmark = pytest.mark.e2e

KEY = "zk_prod_e2e_0123"
FIELDS = {
    "requests": "anylayer_requests_total",
    "failedRequests": "anylayer_failed_requests_total",
    "dataTransferred": "anylayer_transferred_bytes_total",
}


def test_prometheus_counters_and_gauges_equal_simulator(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--anylayer-key", f"{KEY}=acct-e2e")) as sim:
        clock_in_the_past(sim.url)
        http_json(
            f"{sim.url}/_sim/faults",
            method="POST",
            body={
                "upstream": "anylayer",
                "faults": [{"kind": "status", "status": 429, "retry_after": 1}],
            },
        )
        config = tmp_path / "anylayer.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n  - kind: anylayer\n    name: zk\n"
            f"    base_url: {sim.url}\n    api_key: {KEY}\n    interval: 4s\n    timeout: 3s\n"
            "    timeframe: 7d\n    granularity: hour\n    key_ids: [key_8f3a, key_c21b]\n"
        )
        exp = exporter(tmp_path, config, "--web.listener-process")
        try:
            with prometheus(tmp_path, exp.url) as prom:
                wait_for(lambda: success_polls(exp.url) >= 2, "two polls", timeout=60)
                settle(sim.url, exp.url, prom.url)
                for key in ("key_8f3a", "key_c21b"):
                    query = urllib.parse.urlencode(
                        {
                            "account": "acct-e2e",
                            "key": key,
                            "start": created(exp.url, "anylayer_requests", f'key_id="{key}"'),
                        }
                    )
                    truth = http_json(f"{sim.url}/_sim/anylayer/truth?{query}")["values"]
                    for field, family in FIELDS.items():
                        got = promql(prom.url, f'{family}{{target="zk",key_id="{key}"}}')
                        assert float(got[0]["value"][1]) == truth[field], (key, field)
                    # The gauges: the simulator answers the same while its clock is frozen.
                    _, body, _ = http(
                        f"{sim.url}/v1/developer/usage?timeframe=7d&granularity="
                        f"hour&limit=1000&keyId={key}",
                        headers={"Authorization": f"Bearer {KEY}"},
                    )
                    last = json.loads(body)
                    latency = promql(
                        prom.url, f'anylayer_latency_seconds{{key_id="{key}",stat="average"}}'
                    )
                    assert float(latency[0]["value"][1]) == last["usage"]["averageLatency"] / 1000
                    ratio = promql(prom.url, f'anylayer_success_ratio{{key_id="{key}"}}')
                    assert float(ratio[0]["value"][1]) == pytest.approx(
                        last["usage"]["successRate"] / 100
                    )
                    used = promql(
                        prom.url,
                        f'anylayer_rate_limit_utilisation_ratio{{key_id="{key}",period="minute"}}',
                    )
                    assert float(used[0]["value"][1]) == pytest.approx(
                        last["rateLimits"]["utilization"]["requestsPerMinute"] / 100
                    )
                    errors = promql(prom.url, f'sum(anylayer_errors{{key_id="{key}"}})')
                    assert float(errors[0]["value"][1]) == last["errors"]["totalErrors"]
                    endpoints = promql(
                        prom.url, f'count(anylayer_endpoint_requests{{key_id="{key}"}})'
                    )
                    assert float(endpoints[0]["value"][1]) == len(last["breakdown"]["byEndpoint"])
                    alerts = promql(prom.url, f'sum(anylayer_alerts{{key_id="{key}"}})')
                    assert float(alerts[0]["value"][1]) == len(last["alerts"])
                stats = http_json(f"{sim.url}/_sim/stats")
                assert stats["faults_injected"] == {"status": 1}
                for query in (
                    'sum(usage_exporter_upstream_requests_total{target="zk",code="429"})',
                    'usage_exporter_bucket_revisions_total{direction="up",target="zk"}',
                    'usage_exporter_upstream_rate_limit_remaining{target="zk"}',
                ):
                    assert float(promql(prom.url, query)[0]["value"][1]) > 0, query
        finally:
            assert exp.stop() == 0
