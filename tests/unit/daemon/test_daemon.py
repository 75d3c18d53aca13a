"""The daemon's poll: streams that appear and vanish (Telnyx `buckets: auto`), partial failures
that change nothing, and the exposition swapped after each poll."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon
from tests.harness import parse_samples

NOW = 1_763_900_000 - 1_763_900_000 % 3600 + 600


def xml(*names: str) -> bytes:
    items = "".join(f"<Bucket><Name>{n}</Name></Bucket>" for n in names)
    return f"<ListAllMyBucketsResult><Buckets>{items}</Buckets></ListAllMyBucketsResult>".encode()


def telnyx_config(tmp_path: Path) -> Config:
    return Config.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "sources": [
                {
                    "kind": "telnyx",
                    "name": "store",
                    "api_key": "KEY-1234",
                    "interval": 60,
                    "buckets": "auto",
                    "regions": ["us-central-1"],
                    "retries": 0,
                    "s3_endpoint": "http://127.0.0.1:1/s3/{region}",
                    "base_url": "http://127.0.0.1:1",
                }
            ],
        }
    )


def samples(daemon: Daemon) -> dict[Any, float]:
    assert daemon.state.exposition is not None
    return parse_samples(daemon.state.exposition.text.decode())


async def test_buckets_that_appear_and_vanish(tmp_path: Path) -> None:
    listed = ["a", "b"]
    failing: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/s3/"):
            return httpx.Response(200, content=xml(*listed))
        bucket = path.split("/")[4]
        if bucket in failing:
            return httpx.Response(500)
        if path.endswith("/storage"):
            return httpx.Response(
                200,
                json={
                    "data": [{"size": 100, "num_objects": 2, "timestamp": "2025-11-23T12:00:00Z"}]
                },
            )
        stamp = "2025-11-23T12:00:00Z"
        return httpx.Response(
            200,
            json={
                "data": [{"timestamp": stamp, "categories": [{"category": "get_obj", "ops": 5}]}]
            },
        )

    daemon = Daemon(
        telnyx_config(tmp_path), clock=lambda: float(NOW), transport=httpx.MockTransport(handler)
    )
    target = daemon.targets[0]
    assert await daemon.poll(target)
    size = ("telnyx_storage_bucket_size_bytes", frozenset({("target", "store"), ("bucket", "b")}))
    ops_b = (
        "telnyx_storage_operations_total",
        frozenset({("target", "store"), ("bucket", "b"), ("category", "get_obj")}),
    )
    assert samples(daemon)[size] == 100 and samples(daemon)[ops_b] == 5

    failing.add("a")  # one stream fails: the poll is down, the rest is still saved
    assert not await daemon.poll(target)
    up = ("usage_exporter_up", frozenset({("target", "store"), ("source", "telnyx")}))
    assert samples(daemon)[up] == 0
    failing.clear()

    listed.remove("b")  # bucket b vanished: no longer polled, its gauges go, counters stay
    assert await daemon.poll(target)
    assert size not in samples(daemon)
    assert samples(daemon)[ops_b] == 5
    assert {s.name for s in await target.source.streams()} == {"api:a", "storage:a"}

    listed.append("c")  # a new bucket is picked up without a restart
    assert await daemon.poll(target)
    assert (
        "telnyx_storage_bucket_size_bytes",
        frozenset({("target", "store"), ("bucket", "c")}),
    ) in samples(daemon)
    await daemon.aclose()


async def test_a_reload_logs_the_warnings_a_start_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Start and reload log one list (`all_warnings`): the plug-in's own warnings too."""
    from exporter.cli.main import _load
    from exporter.config.load import load_config

    path = tmp_path / "c.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\nsources:\n  - kind: openai\n    name: acme\n"
        "    api_key: sk-admin-k\n    base_url: http://127.0.0.1:1\n    lookback: 30m\n"
        "    overrides: {costs: {group_by: [project_id, user_id]}}\n"
    )
    with caplog.at_level("WARNING"):
        _load(path)
    at_start = sorted(r.getMessage() for r in caplog.records if "config warning" in r.getMessage())
    assert any("lookback" in w for w in at_start), at_start  # a generic warning
    assert any("overrides.costs.group_by" in w for w in at_start), at_start  # the plug-in's
    daemon = Daemon(load_config(path))
    try:
        caplog.clear()
        with caplog.at_level("WARNING"):
            ok, _ = await daemon.reload(path)
        assert ok
        reloaded = sorted(
            r.getMessage() for r in caplog.records if "config warning" in r.getMessage()
        )
        assert reloaded == at_start
    finally:
        await daemon.aclose()
