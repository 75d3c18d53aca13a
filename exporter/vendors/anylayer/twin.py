"""Anylayer's "Get Usage" (`/v1/developer/usage`, also under `/api/v1`), as the simulator speaks
it: timeframe and granularity enums, `timeSeries` buckets that keep rising after they close,
offset pagination of the series, the `success`/`error` envelope and `X-RateLimit-*` headers.
Ratios come as percentages (0-100) and latencies in milliseconds, as the vendor's example shows.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
from collections.abc import Mapping
from random import Random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from exporter.simulator.twin import GeneratedUsage, Shape
from exporter.simulator.usage import HOUR, MINUTE, Key, digest, rate, visible

TIMEFRAMES = {
    "1h": 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
    "90d": 90 * 86400,
    "1y": 365 * 86400,
    "all": 0,
}
GRANULARITIES = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 0}
KEYS = ("key_8f3a", "key_c21b")
ENDPOINTS = ("/v1/scores/{address}", "/v1/achievements", "/v1/identity/{address}")
FIELDS = (("requests", 300), ("dataTransferred", 9000))
COUNTED = ("requests", "failedRequests", "dataTransferred")
SHAPE = Shape(quantities=frozenset(COUNTED), required=("success", "timestamp"))


def error_body(error: str, message: str) -> dict[str, Any]:
    """The documented error envelope: `success`, `error`, `message`, `timestamp`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"success": False, "error": error, "message": message, "timestamp": stamp}


def envelope(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(error, message), status_code=status)


def _iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _align(t: int, granularity: str) -> int:
    if granularity == "month":
        tm = time.gmtime(t)
        return calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0))
    if granularity == "week":  # ISO weeks start on Monday; the epoch was a Thursday
        return t - (t - 4 * 86400) % (7 * 86400)
    width = GRANULARITIES[granularity]
    return t - t % width


def _next(t: int, granularity: str) -> int:
    if granularity == "month":
        return _align(t + 32 * 86400, "month")
    return t + (7 * 86400 if granularity == "week" else GRANULARITIES[granularity])


class AnylayerUsage(GeneratedUsage):
    """Every account's usage per key, as of any time."""

    def _rate(self, account: str, key: str, field: str, hour: int) -> int:
        if hour < self.usage_start:
            return 0
        if field == "failedRequests":  # a share of the requests, minute by minute
            share = digest(self.seed, "al-fail", account, key)[0] % 6
            return 2 * ((self._rate(account, key, "requests", hour) // 2) * share // 100)
        return rate(
            self.seed,
            "anylayer",
            account,
            key,
            field,
            hour,
            maximum=dict(FIELDS)[field],
            sparsity=0,
        )

    def value(self, account: str, key: str, field: str, start: int, end: int, now: int) -> int:
        start = max(start, self.usage_start)
        generated = visible(
            lambda h: self._rate(account, key, field, h), start, end, now, self.late
        )
        return generated + self.revisions.shift((account, key, field), start, end, now)

    def revise(self, account: str, key: str | None, up: bool, now: int, rng: Random) -> bool:
        """A late revision of one closed minute of one field of the key (any key if None)."""
        keys: list[Key] = [
            (account, k, field) for k in ((key,) if key in KEYS else KEYS) for field in COUNTED
        ]

        def minute_value(series: Key, minute: int) -> int:
            _, k, field = series
            return self.value(account, str(k), str(field), minute, minute + MINUTE, now)

        return self.revisions.revise(up, keys, minute_value, now, rng)

    def point(
        self, account: str, keys: tuple[str, ...], start: int, end: int, now: int
    ) -> dict[str, Any]:
        totals = {
            f: sum(self.value(account, k, f, start, end, now) for k in keys)
            for f in ("requests", "failedRequests", "dataTransferred")
        }
        return {
            "timestamp": _iso(start),
            "requests": totals["requests"],
            "successfulRequests": totals["requests"] - totals["failedRequests"],
            "failedRequests": totals["failedRequests"],
            "averageLatency": 100 + digest(self.seed, "al-lat", account, start)[0] % 80,
            "peakLatency": 900 + digest(self.seed, "al-peak", account, start)[0] * 4,
            "dataTransferred": totals["dataTransferred"],
        }

    def ground_truth(
        self, account: str, keys: tuple[str, ...], start: int, now: int
    ) -> dict[str, int]:
        """The keys' totals per field from `start` to now (served at `/_sim/anylayer/truth`)."""
        return {
            f: sum(self.value(account, k, f, start, now + HOUR, now) for k in keys)
            for f in ("requests", "failedRequests", "dataTransferred")
        }


def answer(usage: AnylayerUsage, account: str, request: Request, now: int) -> Any:
    q = request.query_params
    timeframe = q.get("timeframe", "24h")
    granularity = q.get("granularity", "hour")
    if timeframe not in TIMEFRAMES:
        return envelope(400, "INVALID_TIMEFRAME", "Invalid timeframe")
    if granularity not in GRANULARITIES:
        return envelope(400, "INVALID_GRANULARITY", "Invalid granularity")
    key = q.get("keyId")
    if key is not None and key not in KEYS:
        return envelope(404, "NOT_FOUND", "No usage data found")
    keys = (key,) if key else KEYS
    try:
        limit = int(q.get("limit", 100))
        offset = int(q.get("offset", 0))
    except ValueError:
        return envelope(400, "INVALID_PARAMETER", "limit and offset must be integers")
    if not 1 <= limit <= 1000 or offset < 0:
        return envelope(400, "INVALID_PARAMETER", "limit must be 1-1000, offset >= 0")
    span = TIMEFRAMES[timeframe]
    since = max(now - span, usage.usage_start) if span else usage.usage_start
    points = []
    b = _align(since, granularity)
    while b <= now:
        points.append(
            usage.point(account, keys, max(b, since - since % 60), _next(b, granularity), now)
            | {"timestamp": _iso(b)}
        )
        b = _next(b, granularity)
    page = points[offset : offset + limit]
    summary = usage.ground_truth(account, keys, since, now)
    total = summary["requests"]
    success = 100.0 * (total - summary["failedRequests"]) / total if total else 100.0
    d = digest(usage.seed, "al-window", account, key, now // 60)
    per_minute = 20 + d[0] % 50
    body: dict[str, Any] = {
        "success": True,
        "usage": {
            "totalRequests": total,
            "successfulRequests": total - summary["failedRequests"],
            "failedRequests": summary["failedRequests"],
            "successRate": round(success, 2),
            "averageLatency": 120 + d[1] % 40,
            "peakLatency": 1500 + d[2] * 3,
            "requestsPerMinute": per_minute,
            "requestsPerHour": per_minute * 40,
            "requestsPerDay": per_minute * 300,
            "peakRequestsPerMinute": per_minute + d[3] % 20,
            "peakRequestsPerHour": per_minute * 40 + d[4] % 200,
            "dataTransferred": summary["dataTransferred"],
            "averageDataPerRequest": summary["dataTransferred"] // total if total else 0,
        },
        "timeSeries": page,
        "breakdown": {
            "byEndpoint": [
                {
                    "endpoint": e,
                    "requests": total * (i + 1) // 6,
                    "successRate": 90 + i * 3,
                    "averageLatency": 100 + 20 * i,
                    "dataTransferred": summary["dataTransferred"] * (i + 1) // 6,
                }
                for i, e in enumerate(ENDPOINTS)
            ],
            "byMethod": [{"method": "GET", "requests": total}],
            "byStatusCode": [{"statusCode": 200, "count": total - summary["failedRequests"]}],
            "byKey": [{"keyId": k, "requests": 0} for k in keys],
        },
        "errors": {
            "totalErrors": summary["failedRequests"],
            "errorRate": round(100 - success, 2),
            "byType": [
                {
                    "type": "RATE_LIMIT_EXCEEDED",
                    "count": summary["failedRequests"] * 2 // 3,
                    "percentage": 66.7,
                    "description": "Too many requests",
                },
                {
                    "type": "INTERNAL_ERROR",
                    "count": summary["failedRequests"] - summary["failedRequests"] * 2 // 3,
                    "percentage": 33.3,
                    "description": "Server error",
                },
            ],
            "byEndpoint": [],
            "byStatusCode": [],
        },
        "rateLimits": {
            "current": {"requestsPerMinute": 60, "requestsPerHour": 3600, "requestsPerDay": 10000},
            "usage": {
                "requestsPerMinute": per_minute,
                "requestsPerHour": per_minute * 40,
                "requestsPerDay": per_minute * 300,
            },
            "utilization": {
                "requestsPerMinute": round(per_minute / 60 * 100, 1),
                "requestsPerHour": round(per_minute * 40 / 3600 * 100, 1),
                "requestsPerDay": round(per_minute * 300 / 10000 * 100, 1),
            },
        },
        "alerts": [
            {
                "type": "rate_limit",
                "message": "Approaching the per-minute limit",
                "priority": "high" if per_minute > 50 else "medium",
                "recommendation": "Upgrade to Starter",
            }
        ],
        "pagination": {
            "total": len(points),
            "limit": limit,
            "offset": offset,
            "hasMore": offset + limit < len(points),
        },
        "timestamp": _iso(now),
    }
    return body


def authorize(request: Request, keys: Mapping[str, str]) -> str | JSONResponse:
    header = request.headers.get("authorization", "")
    account = (
        keys.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
    )
    if account is None:
        return envelope(401, "UNAUTHORIZED", "Invalid or missing API key")
    return account


def rate_limit_headers(now: int, used: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": str(max(0, 60 - used)),
        "X-RateLimit-Reset": str(now - now % 60 + 60),
    }
