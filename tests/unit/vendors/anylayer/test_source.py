"""The Anylayer source: pagination by offset, base units, percentages, the error envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from exporter.model import Source, Window
from exporter.upstream import UpstreamError
from exporter.vendors.anylayer import PLUGIN
from exporter.vendors.anylayer.config import AnylayerConfig
from exporter.vendors.anylayer.source import ratio
from tests.fakes import Answers, make_source


def source(handler: Answers, **config: Any) -> Source:
    return make_source(PLUGIN, handler, **{"timeframe": "all", **config})


def point(hour: int, requests: int) -> dict[str, Any]:
    return {
        "timestamp": f"2026-08-20T{hour:02d}:00:00Z",
        "requests": requests,
        "failedRequests": 1,
        "dataTransferred": 10,
        "futureField": 1,
    }


async def test_pages_are_followed_and_units_converted() -> None:
    offsets: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = request.url.params.get("offset")
        offsets.append(offset)
        series = [point(1, 5), point(2, 7)] if offset is None else [point(3, 11)]
        return httpx.Response(
            200,
            json={
                "success": True,
                "timeSeries": series,
                "usage": {"averageLatency": 142, "successRate": 97.5},
                "rateLimits": {"utilization": {"requestsPerMinute": 0.25}},
                "alerts": [
                    {"type": "rate_limit", "priority": "high"},
                    {"type": "rate_limit", "priority": "high"},
                ],
                "pagination": {"total": 3, "hasMore": offset is None},
            },
        )

    src = source(handler, path_prefix="/api/v1")
    stream = (await src.streams())[0]
    read = await src.read(stream, Window(0, 2_000_000_000))
    assert offsets == [None, "2"]
    requests = sorted(f.value for f in read.flows if f.family == "anylayer_requests_total")
    assert requests == [5.0, 7.0, 11.0]
    assert all(f.end - f.start == 3600 for f in read.flows)
    levels = {(lv.family, lv.labels): lv.value for lv in read.levels}
    assert levels[("anylayer_latency_seconds", ("", "all", "average"))] == 0.142
    assert levels[("anylayer_success_ratio", ("", "all"))] == 0.975
    assert levels[("anylayer_rate_limit_utilisation_ratio", ("", "minute"))] == 0.25
    assert levels[("anylayer_alerts", ("", "rate_limit", "high"))] == 2
    assert read.unknown_fields == 1


async def test_success_false_and_envelopes_fail_the_read() -> None:
    src = source(
        lambda r: httpx.Response(200, json={"success": False, "error": "X", "message": "m"})
    )
    with pytest.raises(UpstreamError, match="success is not true: X: m"):
        await src.read((await src.streams())[0], Window(0, 1))
    body = {"success": False, "error": "UNAUTHORIZED", "message": "Invalid or missing API key"}
    src = source(lambda r: httpx.Response(401, json=body))
    with pytest.raises(UpstreamError, match="UNAUTHORIZED: Invalid or missing API key"):
        await src.read((await src.streams())[0], Window(0, 1))


def test_ratio_accepts_percentages() -> None:
    assert ratio(0.5, "x") == 0.5 and ratio(50, "x") == 0.5 and ratio(100, "x") == 1.0


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"timeframe": "2d"}, "timeframe"),
        ({"granularity": "second"}, "granularity"),
        ({"timeframe": "1h", "granularity": "day"}, "not finer"),
        ({"timeframe": "24h", "lookback": "23h"}, "must fit"),
    ],
)
def test_invalid_parameters_are_config_errors(config: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        AnylayerConfig.model_validate({"kind": "anylayer", "name": "z", "api_key": "k", **config})
