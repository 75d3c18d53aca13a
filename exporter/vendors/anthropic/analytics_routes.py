"""The Analytics API twin (beta): `GET /v1/organizations/analytics/usage` and `/cost`, answering
from the same organization's truth as the legacy routes (`twin.py`), so both APIs agree.

Written from the docs and the official SDK 2.10.0's types (`BetaAnalyticsUsageItem`,
`BetaAnalyticsCostItem`, `SyncReportPageCursor`): flat rows `{starting_at, ending_at, group,
usage | cost}`, only rows with usage or cost; `group` carries every dimension key, null unless
grouped; `limit` counts rows (1..1000, default 20; cost fan-out rows by `cost_type` /
`token_type` do not count); `order` desc by default, `order_by` a metric or `time`; `next_page`
is an opaque cursor bound to its query (400 when reused with other parameters); every page
carries `data_refreshed_at`. Refused with 400: a missing `anthropic-beta:
analytics-usage-cost-2026-08-24`, more than 5 counted dimensions, a span over 31 days (24 hours
with `1m` buckets), a missing `ending_at` with a bucket width, `starting_at` before 2026-01-01 or
more than 365 days ago. `amount` and `list_amount` are decimal strings of cents.

`POST /_sim/anthropic/analytics` (loopback, no auth) changes the twin: `{"org", "action":
"revise", "age": s, "row": i, "field": f, "delta": n}` revises one minute `age` seconds old (the
API revises up to 30 days back); `{"action": "rate_limit", "per_minute": n}` answers 429 with
`retry-after` past n calls a minute per organization (0: off, the default).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exporter.simulator.twin import Frame, Shape
from exporter.vendors.anthropic import twin

BETA = "analytics-usage-cost-2026-08-24"
DAY = 86400
WIDTHS = {"1m": 60, "1h": 3600, "1d": DAY}
MAX_SPAN = 31 * DAY
MAX_SPAN_1M = DAY
HISTORY_START = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
HISTORY_DAYS = 365
MAX_DIMENSIONS = 5
CACHED_QUERIES = 16
FAN_OUT = ("cost_type", "token_type")  # cost only; not counted toward 5 nor toward `limit`
# BetaAnalyticsUsageGroup's keys; the cost group adds FAN_OUT
GROUP_KEYS = (
    "actor",
    "actor_type",
    "agent_id",
    "api_key_id",
    "claude_tag_category",
    "claude_tag_user_id",
    "context_window",
    "deployment_id",
    "environment_id",
    "inference_geo",
    "model",
    "organization_id",
    "product",
    "rbac_group_id",
    "service_tier",
    "session_id",
    "slack_channel_id",
    "speed",
    "user_profile_id",
    "workspace_id",
)
# the dimensions the truth keeps; the others are valid but null on every row of this org
USAGE_TRUTH = frozenset(twin.DIMENSIONS) & frozenset(GROUP_KEYS)
COST_TRUTH = frozenset(twin.COST_DIMENSIONS) - {"description"}
USAGE_ORDER = ("total_tokens", "output_tokens", "requests", "uncached_input_tokens", "time")
COST_ORDER = ("amount", "list_amount", "time")

SHAPE = Shape(
    quantities=frozenset(
        {
            "uncached_input_tokens",
            "cache_read_input_tokens",
            "ephemeral_5m_input_tokens",
            "ephemeral_1h_input_tokens",
            "output_tokens",
            "web_search_requests",
            "total_tokens",
            "requests",
            "amount",
            "list_amount",
        }
    ),
    required=("data", "starting_at", "ending_at", "group"),
)


class BadRequest(Exception):
    pass


def error(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}},
        status_code=status,
        headers=dict(headers or {}),
    )


def _instant(value: str, name: str) -> int:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{name}: must carry a time zone (RFC 3339)")
    return int(parsed.timestamp())


def parse_query(request: Request, now: int, *, costs: bool) -> dict[str, Any]:
    """The query a request asks for, checked as the docs say; BadRequest otherwise."""
    q = request.query_params
    if "starting_at" not in q:
        raise BadRequest("starting_at: required")
    start = _instant(q["starting_at"], "starting_at")
    if start < HISTORY_START:
        raise BadRequest("starting_at: must be no earlier than 2026-01-01T00:00:00Z")
    if start < now - HISTORY_DAYS * DAY:
        raise BadRequest("starting_at: must be within the last 365 days")
    width_name = q.get("time_bucket_width")
    if width_name is not None and width_name not in WIDTHS:
        raise BadRequest("time_bucket_width: one of 1d, 1h, 1m")
    if "ending_at" in q:
        end = _instant(q["ending_at"], "ending_at")
    elif width_name is not None:
        raise BadRequest("ending_at: required when time_bucket_width is set")
    else:
        end = min(now, start + MAX_SPAN)
    if end <= start:
        raise BadRequest("ending_at: must be after starting_at")
    if end - start > MAX_SPAN:
        raise BadRequest("ending_at: the range may span at most 31 days")
    if width_name == "1m" and end - start > MAX_SPAN_1M:
        raise BadRequest("ending_at: with time_bucket_width=1m the range may span at most 24 hours")
    group_by = q.getlist("group_by[]")
    allowed = (*GROUP_KEYS, *FAN_OUT) if costs else GROUP_KEYS
    for key in group_by:
        if key not in allowed:
            raise BadRequest(f"group_by[]: {key!r} is not a dimension of this report")
    if len(set(group_by)) != len(group_by):
        raise BadRequest("group_by[]: a dimension is repeated")
    if len([k for k in group_by if k not in FAN_OUT]) > MAX_DIMENSIONS:
        raise BadRequest(f"group_by[]: at most {MAX_DIMENSIONS} dimensions")
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise BadRequest("limit: not an integer") from None
    if not 1 <= limit <= 1000:
        raise BadRequest("limit: must be between 1 and 1000")
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("order: one of asc, desc")
    orders = COST_ORDER if costs else USAGE_ORDER
    order_by = q.get("order_by", orders[0])
    if order_by not in orders:
        raise BadRequest(f"order_by: one of {', '.join(orders)}")
    return {
        "start": start,
        "end": end,
        "width": WIDTHS[width_name] if width_name else 0,
        "group_by": group_by,
        "limit": limit,
        "order": order,
        "order_by": order_by,
    }


def query_key(request: Request) -> str:
    """What a cursor is bound to: every parameter but `page`, in order."""
    items = sorted((k, v) for k, v in request.query_params.multi_items() if k != "page")
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def encode_cursor(key: str, offset: int) -> str:
    return "page_" + base64.urlsafe_b64encode(json.dumps([key, offset]).encode()).decode()


def decode_cursor(cursor: str, key: str) -> int:
    try:
        bound, offset = json.loads(base64.urlsafe_b64decode(cursor.removeprefix("page_")))
    except (ValueError, TypeError):
        raise BadRequest("page: not a cursor this API issued") from None
    if bound != key or not isinstance(offset, int) or offset < 0:
        raise BadRequest("page: the cursor belongs to another query; start without it")
    return offset


def _buckets(query: Mapping[str, Any], now: int) -> list[tuple[int, int]]:
    """The time buckets of the range with data by `now` (one for the whole range unbucketed,
    its bounds rounded down to the hour)."""
    width, start, end = query["width"], query["start"], query["end"]
    if width == 0:
        return [(start - start % 3600, end - end % 3600)]
    out = []
    b = start - start % width
    while b < end and b <= now:
        out.append((b, b + width))
        b += width
    return out


def _group(keys: Sequence[str], values: Sequence[str | None], costs: bool) -> dict[str, Any]:
    group: dict[str, Any] = dict.fromkeys((*GROUP_KEYS, *FAN_OUT) if costs else GROUP_KEYS)
    for key, value in zip(keys, values, strict=True):
        group[key] = twin.analytics_value(key, value)
    return group


def usage_rows(
    usage: twin.AnthropicUsage, org: str, query: Mapping[str, Any], now: int
) -> list[list[dict[str, Any]]]:
    """Every row of the query, each a unit of one (usage rows do not fan out)."""
    keys = [k for k in query["group_by"] if k in USAGE_TRUTH]
    units = []
    for b, e in _buckets(query, now):
        merged: dict[tuple[str | None, ...], dict[str, int]] = {}
        for raw, sums in usage.usage(org, b, e, now, keys).items():
            key = tuple(twin.analytics_value(k, v) for k, v in zip(keys, raw, strict=True))
            into = merged.setdefault(key, dict.fromkeys(sums, 0))
            for name, value in sums.items():
                into[name] += value
        for key, sums in merged.items():
            tokens = sum(sums[f] for f in twin.TOKEN_FIELDS)
            units.append(
                [
                    {
                        "starting_at": twin.rfc3339(b),
                        "ending_at": twin.rfc3339(e),
                        "group": _group(keys, key, costs=False),
                        "usage": {
                            "uncached_input_tokens": sums["uncached_input_tokens"],
                            "cache_creation": {
                                "ephemeral_1h_input_tokens": sums[
                                    "cache_creation.ephemeral_1h_input_tokens"
                                ],
                                "ephemeral_5m_input_tokens": sums[
                                    "cache_creation.ephemeral_5m_input_tokens"
                                ],
                            },
                            "cache_read_input_tokens": sums["cache_read_input_tokens"],
                            "output_tokens": sums["output_tokens"],
                            "server_tool_use": {
                                "web_search_requests": sums["server_tool_use.web_search_requests"]
                            },
                            "total_tokens": tokens,
                            "requests": sums[twin.REQUESTS],
                        },
                    }
                ]
            )
    return units


def cost_rows(
    usage: twin.AnthropicUsage, org: str, query: Mapping[str, Any], now: int
) -> list[list[dict[str, Any]]]:
    """Every row of the query, grouped in units: one per bucket and counted group, holding its
    cost_type / token_type fan-out rows (a unit counts once toward `limit`)."""
    grouped = query["group_by"]
    fan = [k for k in FAN_OUT if k in grouped]
    if "token_type" in fan:
        fan = ["cost_type", "token_type"]  # token rows say cost_type "tokens"
    counted = [k for k in grouped if k not in FAN_OUT and k in COST_TRUTH]
    keys = counted + fan
    units = []
    for b, e in _buckets(query, now):
        found = usage.cost(org, b, e, now, keys, legacy=False)
        bundles: dict[tuple[str | None, ...], list[tuple[tuple[str | None, ...], Any]]] = {}
        for key, sums in found.items():
            values = dict(zip(keys, key, strict=True))
            tokens_only = "token_type" in grouped and "cost_type" not in grouped
            if tokens_only and values["cost_type"] != "tokens":
                continue  # grouped by token_type alone: the token rows only
            bundles.setdefault(key[: len(counted)], []).append((key, sums))
        for _, members in bundles.items():
            unit = []
            for key, sums in sorted(members, key=lambda m: -m[1].amount):
                values = dict(zip(keys, key, strict=True))
                group = _group(counted, key[: len(counted)], costs=True)
                for name in fan:
                    group[name] = values[name]
                unit.append(
                    {
                        "starting_at": twin.rfc3339(b),
                        "ending_at": twin.rfc3339(e),
                        "group": group,
                        "cost": {
                            "amount": twin.cents(sums.amount),
                            "list_amount": twin.cents(sums.list_amount),
                            "currency": "USD",
                            "requests": None if fan else sums.requests,
                        },
                    }
                )
            units.append(unit)
    return units


def _metric(unit: list[dict[str, Any]], order_by: str) -> Decimal:
    if order_by in ("amount", "list_amount"):
        return sum((Decimal(r["cost"][order_by]) for r in unit), Decimal(0))
    if order_by == "time":  # within a bucket, by total_tokens / amount, highest first
        return _metric(unit, "amount" if "cost" in unit[0] else "total_tokens")
    return Decimal(unit[0]["usage"][order_by] or 0)


def _tie(unit: list[dict[str, Any]]) -> str:
    return json.dumps(unit[0]["group"], sort_keys=True)


def ordered(units: list[list[dict[str, Any]]], order: str, order_by: str) -> list[Any]:
    """Rows in the query's order (stable sorts; ties broken by time, then group, so pages
    never overlap). `time`: by bucket in `order`, within a bucket by the default metric,
    highest first."""
    desc = order == "desc"
    if order_by == "time":
        within = sorted(units, key=lambda u: (-_metric(u, "time"), _tie(u)))
        return sorted(within, key=lambda u: str(u[0]["starting_at"]), reverse=desc)
    base = sorted(units, key=lambda u: (str(u[0]["starting_at"]), _tie(u)))
    return sorted(base, key=lambda u: _metric(u, order_by), reverse=desc)


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


def routes(frame: Frame, truth: twin.AnthropicUsage) -> list[BaseRoute]:
    """The Analytics API's two reports and `/_sim/anthropic/analytics`, answering from `truth`
    (the twin's organization, shared with the legacy routes)."""
    faults, now = frame.faults, frame.now
    limiter = RateLimit()
    # A query's rows at one time, computed once for all its pages (minute buckets are slow to
    # make); keyed by what could change them: the query, the time and the revisions made.
    cache: dict[tuple[Any, ...], list[Any]] = {}
    revised = [0]

    def rows(costs: bool, org: str, key: str, query: Mapping[str, Any], t: int) -> list[Any]:
        version = (costs, org, key, t, tuple(truth.revisions.counts.values()), revised[0])
        if version not in cache:
            units = (cost_rows if costs else usage_rows)(truth, org, query, t)
            if len(cache) >= CACHED_QUERIES:
                del cache[next(iter(cache))]
            cache[version] = ordered(units, query["order"], query["order_by"])
        return cache[version]

    def report(costs: bool) -> Any:
        async def handler(request: Request) -> Response:
            who = _authorize(request, frame.keys)
            admitted = faults.admit("anthropic", request, who)
            if isinstance(admitted, Response):
                return admitted
            org, fault = admitted
            t = now()
            wait = limiter.retry_after(org, t)
            if wait is not None:
                return error(
                    429,
                    "rate_limit_error",
                    "Number of requests has exceeded your rate limit",
                    {"retry-after": str(wait)},
                )
            try:
                query = parse_query(request, t, costs=costs)
                key = query_key(request)
                offset = (
                    decode_cursor(request.query_params["page"], key)
                    if (request.query_params.get("page"))
                    else 0
                )
            except BadRequest as err:
                return error(400, "invalid_request_error", str(err))

            async def answer() -> Any:
                units = rows(costs, org, key, query, t)
                page = units[offset : offset + query["limit"]]
                more = offset + query["limit"] < len(units)
                return {
                    "data": [row for unit in page for row in unit],
                    "has_more": more,
                    "next_page": encode_cursor(key, offset + query["limit"]) if more else None,
                    "data_refreshed_at": twin.rfc3339(max(0, t - frame.late_seconds) // 60 * 60),
                }

            kind, message = ("api_error", "simulated failure")
            if fault is not None and fault.status == 429:
                kind, message = (
                    "rate_limit_error",
                    "Number of requests has exceeded your rate limit",
                )
            body = {"type": "error", "error": {"type": kind, "message": message}}
            return await faults.respond(fault, body, answer, shape=SHAPE, now=t)

        return handler

    async def control(request: Request) -> Response:
        try:
            data = dict(await request.json())
            action = data["action"]
            if action == "revise":
                t = now()
                minute = (t - int(data["age"])) // 60 * 60
                row, field = int(data["row"]), str(data["field"])
                if row not in {r.index for r in twin.ROWS} or field not in (
                    *twin.USAGE_FIELDS,
                    twin.REQUESTS,
                ):
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
