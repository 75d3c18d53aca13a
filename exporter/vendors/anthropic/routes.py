"""The Anthropic twin's routes: the legacy Usage & Cost Admin API (messages usage report, cost
report), the Analytics API's and the names' routes (their own modules, answering from the same
truth: `usage_twin.py`), and `/_sim/anthropic/truth` (ground truth).

The legacy routes follow the docs (docs/upstreams.md, "anthropic"): `x-api-key` with an Admin key
and `anthropic-version`; `starting_at` snapped down to the bucket; `ending_at` keeps buckets that
end at or before it; every bucket of the range, empty ones included; `limit` counts buckets
(defaults and maxima per width); `next_page` is the next bucket's start (RFC 3339, as in the docs'
example); a `group_by[]` the endpoint does not take is a 400; `speed` needs its beta header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exporter.simulator.twin import Frame, Mounted, Shape
from exporter.vendors.anthropic import analytics_routes, resources_twin
from exporter.vendors.anthropic.api_twin import (
    Answer,
    BadRequest,
    cents,
    error,
    parse_time,
    rfc3339,
    serve,
)
from exporter.vendors.anthropic.twin import COUNT_KEYS, DIMENSIONS
from exporter.vendors.anthropic.usage_twin import AnthropicUsage, CostSums

WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}
LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}  # (default, maximum) buckets
COST_LIMITS = (7, 31)
# every dimension of a row but the Analytics API's `product`, in the order results carry them
USAGE_GROUP_BY = tuple(sorted(d for d in DIMENSIONS if d != "product"))
COST_GROUP_BY = ("workspace_id", "description")
DESCRIPTION_FIELDS = ("cost_type", "token_type", "model", "service_tier", "context_window")
SPEED_BETA = "fast-mode-2026-02-01"
USAGE_FILTERS = {
    "account_ids[]": "account_id",
    "api_key_ids[]": "api_key_id",
    "service_account_ids[]": "service_account_id",
    "workspace_ids[]": "workspace_id",
    "models[]": "model",
    "service_tiers[]": "service_tier",
    "context_window[]": "context_window",
    "inference_geos[]": "inference_geo",
    "speeds[]": "speed",
}

SHAPE = Shape(
    quantities=COUNT_KEYS,
    required=("data", "starting_at", "ending_at", "results", "amount"),
)


def authorize(request: Request, keys: Mapping[str, Any]) -> str | Response:
    """The key's organization; 401 for a key the twin does not know, 403 for a workspace key
    (the usage and cost reports need an Admin key), 400 without `anthropic-version`."""
    key = request.headers.get("x-api-key", "")
    who = keys.get(key)
    if who is None:
        return error(401, "authentication_error", "invalid x-api-key")
    if not key.startswith("sk-ant-admin"):
        return error(
            403,
            "permission_error",
            "This endpoint requires an Admin API key (sk-ant-admin...).",
        )
    if not request.headers.get("anthropic-version"):
        return error(400, "invalid_request_error", "anthropic-version: header is required")
    return str(who)


def _list(request: Request, name: str) -> list[str]:
    return request.query_params.getlist(name)


def parse_query(request: Request, now: int, *, costs: bool) -> dict[str, Any]:
    q = request.query_params
    if "starting_at" not in q:
        raise BadRequest("starting_at: Field required")
    start = parse_time(q["starting_at"], "starting_at")
    end = parse_time(q["ending_at"], "ending_at") if "ending_at" in q else None
    width_name = q.get("bucket_width", "1d")
    if width_name not in WIDTHS or (costs and width_name != "1d"):
        raise BadRequest(f"bucket_width: invalid value {width_name[:16]!r}")
    default, maximum = COST_LIMITS if costs else LIMITS[width_name]
    try:
        limit = int(q.get("limit", default))
    except ValueError:
        raise BadRequest("limit: expected an integer") from None
    if not 1 <= limit <= maximum:
        raise BadRequest(f"limit: must be between 1 and {maximum} for bucket_width {width_name}")
    group_by = _list(request, "group_by[]")
    allowed = COST_GROUP_BY if costs else USAGE_GROUP_BY
    for key in group_by:
        if key not in allowed:
            raise BadRequest(f"group_by[]: invalid value {key[:32]!r}")
    if "speed" in group_by and SPEED_BETA not in request.headers.get("anthropic-beta", ""):
        raise BadRequest(f"group_by[]: speed requires the anthropic-beta header {SPEED_BETA}")
    filters: dict[str, set[str | None]] = {}
    if not costs:
        for name, dimension in USAGE_FILTERS.items():
            values = _list(request, name)
            if values:
                filters[dimension] = set(values)
    width = WIDTHS[width_name]
    first = start - start % width
    if "page" in q:
        first = parse_time(q["page"], "page")
        if first % width:
            raise BadRequest("page: invalid cursor")
    return {
        "start": first,
        "end": end,
        "width": width,
        "limit": limit,
        "group_by": group_by,
        "filters": filters,
    }


def usage_result(
    group_by: Sequence[str], key: Sequence[str | None], sums: Mapping[str, int]
) -> dict[str, Any]:
    grouped = dict(zip(group_by, key, strict=True))
    result: dict[str, Any] = {
        "uncached_input_tokens": sums["uncached_input_tokens"],
        "cache_creation": {
            "ephemeral_1h_input_tokens": sums["cache_creation.ephemeral_1h_input_tokens"],
            "ephemeral_5m_input_tokens": sums["cache_creation.ephemeral_5m_input_tokens"],
        },
        "cache_read_input_tokens": sums["cache_read_input_tokens"],
        "output_tokens": sums["output_tokens"],
        "server_tool_use": {"web_search_requests": sums["server_tool_use.web_search_requests"]},
    }
    for dimension in USAGE_GROUP_BY:
        if dimension == "speed" and "speed" not in grouped:
            continue  # speed left the result schema (2026-04-21); shown only when grouped
        result[dimension] = grouped.get(dimension)
    return result


def cost_group(group_by: Sequence[str]) -> list[str]:
    """The truth's cost dimensions for a legacy `group_by[]`."""
    out = [k for k in group_by if k != "description"]
    if "description" in group_by:
        out += ["description", *DESCRIPTION_FIELDS]
    return out


def cost_result(keys: Sequence[str], key: Sequence[str | None], sums: CostSums) -> dict[str, Any]:
    grouped = dict(zip(keys, key, strict=True))
    return {
        "currency": "USD",
        "amount": cents(sums.amount),
        "workspace_id": grouped.get("workspace_id"),
        "description": grouped.get("description"),
        "cost_type": grouped.get("cost_type"),
        "context_window": grouped.get("context_window"),
        "model": grouped.get("model"),
        "service_tier": grouped.get("service_tier"),
        "token_type": grouped.get("token_type"),
        "inference_geo": None,
    }


def report(
    usage: AnthropicUsage,
    org: str,
    query: Mapping[str, Any],
    now: int,
    cap: int | None,
    *,
    costs: bool,
) -> dict[str, Any]:
    """One page of buckets, oldest first, empty ones included."""
    width = query["width"]
    end = query["end"] if query["end"] is not None else now - now % width + width
    limit = min(query["limit"], cap) if cap else query["limit"]
    data: list[dict[str, Any]] = []
    b = query["start"]
    while b + width <= end and b <= now and len(data) < limit:
        if costs:
            keys = cost_group(query["group_by"])
            groups = usage.cost(org, b, b + width, now, keys, legacy=True)
            results = [
                cost_result(keys, k, v)
                for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))
            ]
        else:
            found = usage.usage(org, b, b + width, now, query["group_by"], query["filters"])
            results = [
                usage_result(query["group_by"], k, v)
                for k, v in sorted(found.items(), key=lambda kv: str(kv[0]))
            ]
        data.append(
            {
                "starting_at": rfc3339(b),
                "ending_at": rfc3339(b + width),
                "results": results,
            }
        )
        b += width
    more = b + width <= end and b <= now
    return {"data": data, "has_more": more, "next_page": rfc3339(b) if more else None}


def truth_rows(
    usage: AnthropicUsage, request: Request, start: int, now: int
) -> list[dict[str, Any]]:
    """`/_sim/anthropic/truth`: sums since `start` (to the open bucket's end) per group.
    `endpoint` messages or costs, `api` admin (legacy) or analytics, `group_by` repeated."""
    q = request.query_params
    group_by = q.getlist("group_by")
    org = q.get("org", "")
    begin = int(q.get("start", start))
    end = now + 86400
    if q.get("endpoint") == "costs":
        legacy = q.get("api", "admin") == "admin"
        keys = cost_group(group_by) if legacy else group_by
        groups = usage.cost(org, begin, end, now, keys, legacy=legacy)
        return [
            {
                "group": dict(zip(keys, k, strict=True)),
                "amount": cents(v.amount),
                "list_amount": cents(v.list_amount),
                "requests": v.requests,
            }
            for k, v in groups.items()
        ]
    found = usage.usage(org, begin, end, now, group_by)
    return [{"group": dict(zip(group_by, k, strict=True)), "values": v} for k, v in found.items()]


def mount(frame: Frame) -> Mounted:
    now = frame.now
    usage = AnthropicUsage(frame.seed, frame.start, frame.late_seconds)

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return usage.revise(who, up, now(), rng)

    def legacy_route(costs: bool) -> Any:
        async def handler(request: Request) -> Response:
            def prepare(org: str, t: int) -> Answer:
                query = parse_query(request, t, costs=costs)

                async def answer() -> Any:
                    return report(usage, org, query, t, frame.max_page_buckets, costs=costs)

                return answer

            return await serve(frame, request, authorize(request, frame.keys), SHAPE, prepare)

        return handler

    async def truth(request: Request) -> Response:
        t = now()
        return JSONResponse({"now": t, "rows": truth_rows(usage, request, frame.start, t)})

    routes: list[BaseRoute] = [
        Route("/v1/organizations/usage_report/messages", legacy_route(costs=False)),
        Route("/v1/organizations/cost_report", legacy_route(costs=True)),
        Route("/_sim/anthropic/truth", truth),
    ]
    routes += analytics_routes.routes(frame, usage)
    routes += resources_twin.routes(frame, usage)
    return Mounted(routes=routes, revisions=usage.revisions, reviser=reviser)
