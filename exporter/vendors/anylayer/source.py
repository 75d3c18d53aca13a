"""Anylayer (formerly ZKScore) developer API "Get Usage": per-key requests as exact counters,
and what describes the window (latency, success ratio, endpoints, errors, rate limits, alerts)
as gauges in base units.

The endpoint takes a `timeframe` enum instead of times, so a read covers what the timeframe
still holds: every `timeSeries` point from the first whole bucket inside it. Points are buckets
(`granularity` wide), so the ledger's exact counter semantics apply. The vendor's docs are
generated and incomplete: every field is optional, unknown fields are counted, and ratios given
as percentages (0-100) are turned into 0-1.

    # TYPE anylayer_requests_total counter
    anylayer_requests_total{target="zk",key_id="key_8f3a"} 15420
    # TYPE anylayer_latency_seconds gauge
    anylayer_latency_seconds{target="zk",key_id="key_8f3a",window="24h",stat="average"} 0.142
    # TYPE anylayer_rate_limit_utilisation_ratio gauge
    anylayer_rate_limit_utilisation_ratio{target="zk",key_id="key_8f3a",period="minute"} 0.183
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from typing import Any

from exporter.model import Family, Flow, Kind, Level, Stream, StreamRead, Window, align_up
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.values import quantity, timestamp
from exporter.vendors.anylayer.config import (
    ANYLAYER_GRANULARITY_SECONDS,
    ANYLAYER_TIMEFRAME_SECONDS,
    AnylayerConfig,
)

DEFAULT_BASE_URL = "https://api-mainnet.onzks.com"
RATE_LIMIT_HEADER = "x-ratelimit-remaining"
PAGE_LIMIT = 1000
MAX_PAGES = 100
TIMEFRAME = ANYLAYER_TIMEFRAME_SECONDS
GRANULARITY = {**ANYLAYER_GRANULARITY_SECONDS, "month": 0}  # months: calendar months
DEFAULT_LOOKBACK = {
    "minute": 15 * 60,
    "hour": 3 * 3600,
    "day": 2 * 86400,
    "week": 14 * 86400,
    "month": 62 * 86400,
}
KEY = ("key_id",)
WINDOWED = ("key_id", "window")
PERIODS = {"requestsPerMinute": "minute", "requestsPerHour": "hour", "requestsPerDay": "day"}

FAMILIES: tuple[Family, ...] = (
    Family(
        "anylayer_requests_total",
        Kind.COUNTER,
        "API requests made with the key (timeSeries `requests`).",
        KEY,
    ),
    Family(
        "anylayer_failed_requests_total",
        Kind.COUNTER,
        "Failed API requests made with the key (timeSeries `failedRequests`).",
        KEY,
    ),
    Family(
        "anylayer_transferred_bytes_total",
        Kind.COUNTER,
        "Bytes transferred for the key's requests (timeSeries `dataTransferred`, taken as bytes).",
        KEY,
        unit="bytes",
    ),
    Family(
        "anylayer_latency_seconds",
        Kind.GAUGE,
        "Request latency over the configured timeframe (`window`), by `stat` (average, peak); "
        "the API's milliseconds converted to seconds.",
        (*WINDOWED, "stat"),
        unit="seconds",
    ),
    Family(
        "anylayer_success_ratio",
        Kind.GAUGE,
        "Share of successful requests over the timeframe, 0-1 (percentages are divided by 100).",
        WINDOWED,
    ),
    Family(
        "anylayer_endpoint_requests",
        Kind.GAUGE,
        "Requests per API endpoint over the timeframe (breakdown.byEndpoint).",
        (*WINDOWED, "endpoint"),
    ),
    Family(
        "anylayer_endpoint_success_ratio",
        Kind.GAUGE,
        "Success ratio per API endpoint over the timeframe, 0-1.",
        (*WINDOWED, "endpoint"),
    ),
    Family(
        "anylayer_endpoint_latency_seconds",
        Kind.GAUGE,
        "Average latency per API endpoint over the timeframe, in seconds.",
        (*WINDOWED, "endpoint"),
        unit="seconds",
    ),
    Family(
        "anylayer_endpoint_transferred_bytes",
        Kind.GAUGE,
        "Bytes transferred per API endpoint over the timeframe.",
        (*WINDOWED, "endpoint"),
        unit="bytes",
    ),
    Family(
        "anylayer_errors",
        Kind.GAUGE,
        "Errors over the timeframe by type (errors.byType `count`).",
        (*WINDOWED, "type"),
    ),
    Family(
        "anylayer_rate_limit_requests",
        Kind.GAUGE,
        "The key's rate limit: requests allowed per `period` (rateLimits.current).",
        (*KEY, "period"),
    ),
    Family(
        "anylayer_rate_limit_used_requests",
        Kind.GAUGE,
        "Requests used in the current rate-limit `period` (rateLimits.usage).",
        (*KEY, "period"),
    ),
    Family(
        "anylayer_rate_limit_utilisation_ratio",
        Kind.GAUGE,
        "Used share of the rate limit per `period`, 0-1 (rateLimits.utilization; "
        "percentages are divided by 100; may exceed 1 when over quota).",
        (*KEY, "period"),
    ),
    Family(
        "anylayer_alerts",
        Kind.GAUGE,
        "Active alerts by type and priority.",
        (*KEY, "type", "priority"),
    ),
)
_SERIES_FIELDS = {
    "requests": "anylayer_requests_total",
    "failedRequests": "anylayer_failed_requests_total",
    "dataTransferred": "anylayer_transferred_bytes_total",
}
_KNOWN_TOP = frozenset(
    {
        "success",
        "usage",
        "timeSeries",
        "breakdown",
        "errors",
        "rateLimits",
        "alerts",
        "pagination",
        "timestamp",
    }
)
_KNOWN_POINT = frozenset(
    {
        "timestamp",
        "requests",
        "successfulRequests",
        "failedRequests",
        "averageLatency",
        "peakLatency",
        "dataTransferred",
    }
)


def bucket_end(start: int, granularity: str) -> int:
    if granularity != "month":
        return start + GRANULARITY[granularity]
    tm = time.gmtime(start)
    year, month = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0))


def ratio(value: Any, field: str) -> float:
    """0-1 from either a ratio or a percentage (a value above 1 is read as a percentage)."""
    number = _number(value, field)
    return number / 100 if number > 1 else number


class AnylayerSource:
    """Reads one Anylayer account (one target): one stream per configured key, or one for all."""

    def __init__(self, config: AnylayerConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream
        granularity = str(config.granularity)
        width = GRANULARITY[granularity] or 86400  # months: align the cursor to days
        lookback = int(config.lookback or DEFAULT_LOOKBACK[granularity])
        keys = list(config.key_ids or [""])
        self._streams = tuple(
            Stream(
                f"usage:{key}" if key else "usage",
                width,
                max(lookback, 2 * width),
                int(config.backfill),
            )
            for key in keys
        )

    def __repr__(self) -> str:
        return f"AnylayerSource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        key = stream.name.partition(":")[2]
        pages = await self._pages(key)
        first = pages[0]
        granularity = str(self._config.granularity)
        span = TIMEFRAME[str(self._config.timeframe)]
        now = int(time.time())
        # The oldest bucket of the timeframe may be cut by it: cover only whole buckets.
        start = window.start
        if span:
            start = max(start, align_up(now - span, GRANULARITY[granularity] or 86400))
        unknown = {k for k in first if k not in _KNOWN_TOP}
        flows: list[Flow] = []
        for page in pages:
            for point in page.get("timeSeries") or []:
                if not isinstance(point, dict):
                    raise UpstreamError("usage", "a timeSeries point is not an object")
                unknown.update(f"timeSeries.{k}" for k in point if k not in _KNOWN_POINT)
                begin = timestamp(point.get("timestamp"), "developer/usage")
                end = bucket_end(begin, granularity)
                for field, family in _SERIES_FIELDS.items():
                    if point.get(field) is not None:
                        flows.append(Flow(family, (key,), begin, end, _number(point[field], field)))
        levels = self._levels(first, key)
        return StreamRead(
            stream.name, start, window.end, flows, levels, unknown_fields=len(unknown)
        )

    async def _pages(self, key: str) -> list[dict[str, Any]]:
        path = f"{self._config.path_prefix}/developer/usage"
        base = [
            ("timeframe", str(self._config.timeframe)),
            ("granularity", str(self._config.granularity)),
            ("limit", str(PAGE_LIMIT)),
        ]
        if key:
            base.append(("keyId", key))
        pages: list[dict[str, Any]] = []
        offset = 0
        for _ in range(MAX_PAGES):
            params = [*base, ("offset", str(offset))] if offset else base
            try:
                body = await self._upstream.get_json("developer/usage", path, params)
            except UpstreamError as err:
                hints = {
                    401: "the API key was refused (UNAUTHORIZED)",
                    403: "the key lacks permission for usage statistics (FORBIDDEN)",
                    404: "no usage data found for this key or path: check path_prefix "
                    "(/v1 or /api/v1) and key_ids",
                }
                hint = hints.get(err.status or 0)
                if hint:
                    raise UpstreamError(
                        err.endpoint, f"{hint}: {err.message}", status=err.status
                    ) from None
                raise
            if not isinstance(body, dict):
                raise UpstreamError("developer/usage", "answer is not an object")
            if body.get("success") is not True:
                raise UpstreamError(
                    "developer/usage",
                    f"success is not true: {body.get('error') or 'no error code'}: "
                    f"{str(body.get('message') or '')[:200]}",
                )
            pages.append(body)
            pagination = body.get("pagination")
            if not isinstance(pagination, dict) or pagination.get("hasMore") is not True:
                return pages
            count = len(body.get("timeSeries") or [])
            if count == 0:
                raise UpstreamError("developer/usage", "hasMore is true but the page is empty")
            offset += count
        raise UpstreamError("developer/usage", f"more than {MAX_PAGES} pages")

    def _levels(self, body: dict[str, Any], key: str) -> list[Level]:
        window = str(self._config.timeframe)
        out: list[Level] = []

        def add(family: str, labels: tuple[str, ...], value: Any, convert: Any = None) -> None:
            if value is None:
                return
            number = convert(value, family) if convert else _number(value, family)
            out.append(Level(family, labels, number))

        usage = _object(body.get("usage"))
        for stat, field in (("average", "averageLatency"), ("peak", "peakLatency")):
            add("anylayer_latency_seconds", (key, window, stat), usage.get(field), _millis)
        add("anylayer_success_ratio", (key, window), usage.get("successRate"), ratio)
        breakdown = _object(body.get("breakdown"))
        for item in _list(breakdown.get("byEndpoint")):
            endpoint = str(item.get("endpoint") or "")
            labels = (key, window, endpoint)
            add("anylayer_endpoint_requests", labels, item.get("requests"))
            add("anylayer_endpoint_success_ratio", labels, item.get("successRate"), ratio)
            add("anylayer_endpoint_latency_seconds", labels, item.get("averageLatency"), _millis)
            add("anylayer_endpoint_transferred_bytes", labels, item.get("dataTransferred"))
        for item in _list(_object(body.get("errors")).get("byType")):
            add("anylayer_errors", (key, window, str(item.get("type") or "")), item.get("count"))
        limits = _object(body.get("rateLimits"))
        for section, family, convert in (
            ("current", "anylayer_rate_limit_requests", None),
            ("usage", "anylayer_rate_limit_used_requests", None),
            ("utilization", "anylayer_rate_limit_utilisation_ratio", ratio),
        ):
            values = _object(limits.get(section))
            for field, period in PERIODS.items():
                add(family, (key, period), values.get(field), convert)
        alerts: dict[tuple[str, str, str], float] = {}
        for alert in _list(body.get("alerts")):
            labels = (key, str(alert.get("type") or ""), str(alert.get("priority") or ""))
            alerts[labels] = alerts.get(labels, 0.0) + 1
        out += [Level("anylayer_alerts", labels, n) for labels, n in alerts.items()]
        return out


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _millis(value: Any, field: str) -> float:
    return _number(value, field) / 1000


def _number(value: Any, field: str) -> float:
    return quantity(value, "developer/usage", field)
