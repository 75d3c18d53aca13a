"""Telnyx end to end: a real Prometheus scrapes the exporter polling the simulated storage API
(buckets discovered through ListBuckets); counters equal the simulator's totals per bucket and
category after late data, a 429 with Retry-After and a 503; gauges equal the newest snapshot."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

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

KEY = "KEYtelnyxE2E0001"
FIELDS = {
    "ops": "telnyx_storage_operations_total",
    "successful_ops": "telnyx_storage_successful_operations_total",
    "bytes_sent": "telnyx_storage_sent_bytes_total",
    "bytes_received": "telnyx_storage_received_bytes_total",
}
BUCKETS = ("app-logs", "backups", "media-assets")


def test_prometheus_counters_and_gauges_equal_simulator_truth(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--telnyx-key", f"{KEY}=acct-e2e")) as sim:
        clock_in_the_past(sim.url)
        http_json(
            f"{sim.url}/_sim/faults",
            method="POST",
            body={
                "upstream": "telnyx",
                "faults": [
                    {
                        "kind": "status",
                        "status": 429,
                        "retry_after": 1,
                        "path_contains": "app-logs",
                    },
                    {"kind": "status", "status": 503, "path_contains": "backups"},
                ],
            },
        )
        config = tmp_path / "telnyx.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n  - kind: telnyx\n    name: store\n"
            f"    base_url: {sim.url}\n    api_key: {KEY}\n    interval: 4s\n    timeout: 3s\n"
            f"    backfill: 1d\n    buckets: auto\n    s3_endpoint: {sim.url}/s3/{{region}}\n"
        )
        exp = exporter(tmp_path, config)
        try:
            with prometheus(tmp_path, exp.url) as prom:
                wait_for(lambda: success_polls(exp.url) >= 2, "two polls", timeout=60)
                settle(sim.url, exp.url, prom.url)
                since = created(exp.url, "telnyx_storage_operations")
                expected: dict[tuple[str, str, str], float] = {}
                sizes: dict[str, tuple[float, float]] = {}
                for bucket in BUCKETS:
                    query = urllib.parse.urlencode(
                        {"account": "acct-e2e", "bucket": bucket, "start": since}
                    )
                    truth = http_json(f"{sim.url}/_sim/telnyx/truth?{query}")
                    for row in truth["rows"]:
                        for field, family in FIELDS.items():
                            if row["values"][field]:
                                expected[(family, bucket, row["category"])] = row["values"][field]
                    sizes[bucket] = (truth["storage"]["size"], truth["storage"]["num_objects"])
                got = {}
                for family in FIELDS.values():
                    for r in promql(prom.url, f'{family}{{target="store"}}'):
                        if float(r["value"][1]):
                            got[(family, r["metric"]["bucket"], r["metric"]["category"])] = float(
                                r["value"][1]
                            )
                assert len(expected) > 30 and got == expected
                assert ("telnyx_storage_operations_total", "backups", "copy_obj") in got
                assert ("telnyx_storage_operations_total", "app-logs", "get-bucket_location") in got
                for bucket, (size, objects) in sizes.items():
                    gauge = promql(
                        prom.url, f'telnyx_storage_bucket_size_bytes{{bucket="{bucket}"}}'
                    )
                    assert float(gauge[0]["value"][1]) == size
                    count = promql(prom.url, f'telnyx_storage_bucket_objects{{bucket="{bucket}"}}')
                    assert float(count[0]["value"][1]) == objects
                for query in (
                    'sum(usage_exporter_upstream_requests_total{target="store",code="429"})',
                    'usage_exporter_bucket_revisions_total{direction="up",target="store"}',
                    'usage_exporter_upstream_rate_limit_remaining{target="store"}',
                ):
                    assert float(promql(prom.url, query)[0]["value"][1]) > 0, query
        finally:
            assert exp.stop() == 0
