"""What a request to the Analytics API twin may ask, checked as the docs and the official SDK
2.10.0's types say (`BetaAnalyticsUsageItem`, `BetaAnalyticsCostItem`, `SyncReportPageCursor`),
and the cursors bound to their query.

Refused with 400 (`BadRequest`): more than 5 counted dimensions, a span over 31 days (24 hours
with `1m` buckets), a missing `ending_at` with a bucket width, `starting_at` before 2026-01-01 or
more than 365 days ago; `limit` counts rows (1..1000, default 20); `order` desc by default,
`order_by` a metric or `time`; `next_page` is an opaque cursor bound to its query (400 when
reused with other parameters).

The twin keeps its own list of the API's dimensions (`GROUP_KEYS`), apart from the source's
(`config.py`): it is what the source is checked against, so it does not share the table.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

from starlette.requests import Request

from exporter.vendors.anthropic.api_twin import BadRequest, parse_time

DAY = 86400
WIDTHS = {"1m": 60, "1h": 3600, "1d": DAY}
MAX_SPAN = 31 * DAY
MAX_SPAN_1M = DAY
HISTORY_START = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
HISTORY_DAYS = 365
MAX_DIMENSIONS = 5
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
USAGE_ORDER = ("total_tokens", "output_tokens", "requests", "uncached_input_tokens", "time")
COST_ORDER = ("amount", "list_amount", "time")


def parse_query(request: Request, now: int, *, costs: bool) -> dict[str, Any]:
    """The query a request asks for, checked as the docs say; BadRequest otherwise."""
    q = request.query_params
    if "starting_at" not in q:
        raise BadRequest("starting_at: required")
    start = parse_time(q["starting_at"], "starting_at")
    if start < HISTORY_START:
        raise BadRequest("starting_at: must be no earlier than 2026-01-01T00:00:00Z")
    if start < now - HISTORY_DAYS * DAY:
        raise BadRequest("starting_at: must be within the last 365 days")
    width_name = q.get("time_bucket_width")
    if width_name is not None and width_name not in WIDTHS:
        raise BadRequest("time_bucket_width: one of 1d, 1h, 1m")
    if "ending_at" in q:
        end = parse_time(q["ending_at"], "ending_at")
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
