"""The official Telnyx SDK parses the simulator's answers: our simulator speaks the real schema."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.harness import simulator

if os.environ.get("CI"):
    import telnyx  # the test extra installs it: missing in CI is a failure, not a skip
else:
    telnyx = pytest.importorskip("telnyx", reason="pip install '.[test]' installs the SDK")


def test_sdk_reads_api_and_storage_usage(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--telnyx-key", "KEYsdk0001=acct-sdk")) as sim:
        client = telnyx.Telnyx(api_key="KEYsdk0001", base_url=f"{sim.url}/v2", max_retries=0)
        end = dt.datetime.now(dt.UTC)
        start = end - dt.timedelta(hours=6)
        usage = client.storage.buckets.usage.get_api_usage(
            "app-logs",
            filter={
                "start_time": start.isoformat().replace("+00:00", "Z"),
                "end_time": end.isoformat().replace("+00:00", "Z"),
            },
        )
        assert usage.data and usage.data[0].timestamp is not None
        categories = {c.category for point in usage.data for c in point.categories or []}
        assert "get_obj" in categories
        first = usage.data[0]
        assert first.total is not None
        assert first.total.ops == sum(c.ops or 0 for c in first.categories or [])
        storage = client.storage.buckets.usage.get_bucket_usage("app-logs")
        assert storage.data and storage.data[0].size and storage.meta
        assert storage.meta.total_pages == 1
        client.close()
