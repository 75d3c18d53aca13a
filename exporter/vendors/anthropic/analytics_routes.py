"""The Analytics API twin (beta): `GET /v1/organizations/analytics/usage` and `/cost`, answering
from the same organization's truth as the legacy routes (`routes.py`), so both APIs agree. The
query's checks are `analytics_query_twin.py`'s, its rows `analytics_rows_twin.py`'s; here: the
auth (an Admin or read:analytics key, the version header and the Analytics beta), the rate
limit, pages and the control endpoint. Every page carries `data_refreshed_at`.

`POST /_sim/anthropic/analytics` (loopback, no auth) changes the twin: `{"org", "action":
"revise", "age": s, "row": i, "field": f, "delta": n}` revises one minute `age` seconds old (the
API revises up to 30 days back); `{"action": "rate_limit", "per_minute": n}` answers 429 with
`retry-after` past n calls a minute per organization (0: off, the default).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exporter.simulator.twin import Frame, Shape
from exporter.vendors.anthropic.analytics_query_twin import (
    decode_cursor,
    encode_cursor,
    parse_query,
    query_key,
)
from exporter.vendors.anthropic.analytics_rows_twin import Unit, cost_rows, ordered, usage_rows
from exporter.vendors.anthropic.api_twin import RATE_LIMITED, Answer, error, rfc3339, serve
from exporter.vendors.anthropic.twin import COUNT_KEYS, REQUESTS, ROWS, USAGE_FIELDS
from exporter.vendors.anthropic.usage_twin import AnthropicUsage

BETA = "analytics-usage-cost-2026-08-24"
CACHED_QUERIES = 16

SHAPE = Shape(
    quantities=COUNT_KEYS | {"total_tokens", REQUESTS, "amount", "list_amount"},
    required=("data", "starting_at", "ending_at", "group"),
)


class RateLimit:
    """Calls a minute per organization (0: off)."""

    def __init__(self) -> None:
        self.per_minute = 0
        self.calls: dict[str, deque[int]] = {}

    def retry_after(self, org: str, now: int) -> int | None:
        if self.per_minute <= 0:
            return None
        calls = self.calls.setdefault(org, deque())
        while calls and calls[0] <= now - 60:
            calls.popleft()
        if len(calls) >= self.per_minute:
            return max(1, calls[0] + 60 - now)
        calls.append(now)
        return None


def routes(frame: Frame, truth: AnthropicUsage) -> list[BaseRoute]:
    """The Analytics API's two reports and `/_sim/anthropic/analytics`, answering from `truth`
    (the twin's organization, shared with the legacy routes)."""
    now = frame.now
    limiter = RateLimit()
    # A query's rows at one time, computed once for all its pages (minute buckets are slow to
    # make); keyed by what could change them: the query, the time and the revisions made.
    cache: dict[tuple[Any, ...], list[Unit]] = {}
    revised = [0]

    def rows(costs: bool, org: str, key: str, query: Mapping[str, Any], t: int) -> list[Unit]:
        version = (costs, org, key, t, tuple(truth.revisions.counts.values()), revised[0])
        if version not in cache:
            units = (cost_rows if costs else usage_rows)(truth, org, query, t)
            if len(cache) >= CACHED_QUERIES:
                del cache[next(iter(cache))]
            cache[version] = ordered(units, query["order"], query["order_by"])
        return cache[version]

    def report(costs: bool) -> Any:
        async def handler(request: Request) -> Response:
            def prepare(org: str, t: int) -> Answer | Response:
                wait = limiter.retry_after(org, t)
                if wait is not None:
                    return error(429, "rate_limit_error", RATE_LIMITED, {"retry-after": str(wait)})
                query = parse_query(request, t, costs=costs)
                key = query_key(request)
                cursor = request.query_params.get("page")
                offset = decode_cursor(cursor, key) if cursor else 0

                async def answer() -> Any:
                    units = rows(costs, org, key, query, t)
                    page = units[offset : offset + query["limit"]]
                    more = offset + query["limit"] < len(units)
                    return {
                        "data": [row for unit in page for row in unit],
                        "has_more": more,
                        "next_page": encode_cursor(key, offset + query["limit"]) if more else None,
                        "data_refreshed_at": rfc3339(max(0, t - frame.late_seconds) // 60 * 60),
                    }

                return answer

            return await serve(frame, request, _authorize(request, frame.keys), SHAPE, prepare)

        return handler

    async def control(request: Request) -> Response:
        try:
            data = dict(await request.json())
            action = data["action"]
            if action == "revise":
                t = now()
                minute = (t - int(data["age"])) // 60 * 60
                row, field = int(data["row"]), str(data["field"])
                if row not in {r.index for r in ROWS} or field not in (*USAGE_FIELDS, REQUESTS):
                    raise ValueError("no such row or field")
                truth.revisions.add((str(data["org"]), row, field), minute, int(data["delta"]))
                revised[0] += 1
                return JSONResponse({"minute": minute})
            if action == "rate_limit":
                limiter.per_minute = int(data["per_minute"])
                limiter.calls.clear()
                return JSONResponse({"per_minute": limiter.per_minute})
            raise ValueError(f"unknown action {action!r}")
        except (KeyError, ValueError, TypeError) as err:
            return JSONResponse({"error": f"{type(err).__name__}: {err}"}, status_code=400)

    return [
        Route("/v1/organizations/analytics/usage", report(costs=False)),
        Route("/v1/organizations/analytics/cost", report(costs=True)),
        Route("/_sim/anthropic/analytics", control, methods=["POST"]),
    ]


def _authorize(request: Request, keys: Mapping[str, Any]) -> str | Response:
    """The organization of the `x-api-key` (an Admin key or a read:analytics key), or the API's
    error answer: the version header is required, and so is the Analytics beta."""
    key = request.headers.get("x-api-key")
    if key is None or key not in keys:
        return error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return error(400, "invalid_request_error", "anthropic-version: header is required")
    betas = {b.strip() for b in request.headers.get("anthropic-beta", "").split(",")}
    if BETA not in betas:
        return error(400, "invalid_request_error", f"anthropic-beta: this endpoint needs {BETA}")
    return str(keys[key])
