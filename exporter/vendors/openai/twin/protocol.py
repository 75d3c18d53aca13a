"""The OpenAI twin's HTTP protocol: the query a usage page takes (its errors worded as the API
words them), the pages and their base64 cursors, the result objects, the error envelope and the
key check (an Admin key of a known organization).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.simulator.twin import Shape
from exporter.vendors.openai.twin.catalogue import (
    COSTS_LIMITS,
    ENDPOINTS,
    LIMITS,
    LINE_ITEMS,
    WIDTHS,
    EndpointSpec,
)
from exporter.vendors.openai.twin.usage import OpenAIUsage

SHAPE = Shape(
    quantities=frozenset(
        {f.name for spec in ENDPOINTS.values() for f in spec.fields if f.name != "micro_usd"}
        | {"amount", "value", "quantity"}
    ),
    required=("data", "start_time", "end_time"),
)


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def error(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
    )


def result_object(
    spec: EndpointSpec, group_by: Sequence[str], key: tuple[Any, ...], sums: Mapping[str, float]
) -> dict[str, Any]:
    grouped = dict(zip(group_by, key, strict=True))
    out: dict[str, Any] = {"object": spec.result_object}
    if spec.name == "costs":
        out["amount"] = {"value": sums["micro_usd"] / 1e6, "currency": "usd"}
        out["line_item"] = grouped.get("line_item")
        out["project_id"] = grouped.get("project_id")
        out["api_key_id"] = grouped.get("api_key_id")
        out["api_source"] = grouped.get("api_source")
        out["user_id"] = grouped.get("user_id")
        # The quantity (and its unit) is reported when grouped by line item.
        item = grouped.get("line_item")
        out["quantity"] = float(sums["quantity"]) if item is not None else None
        out["quantity_unit"] = LINE_ITEMS[str(item)][0] if item is not None else None
        return out
    for field in spec.fields:
        out[field.name] = sums.get(field.name, 0)
    for k in spec.group_keys:
        out[k] = grouped.get(k)
    return out


def list_param(request: Request, name: str) -> list[str]:
    """A list parameter, spelt `name=a&name=b` or `name[]=a&name[]=b`."""
    return request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")


def parse_query(request: Request, spec: EndpointSpec, now: int) -> dict[str, Any]:
    q = request.query_params
    try:
        start_time = int(q["start_time"])
    except KeyError:
        raise BadRequest("Missing required parameter: 'start_time'.", "start_time") from None
    except ValueError:
        raise BadRequest("Invalid 'start_time': expected an integer.", "start_time") from None
    try:
        end_time = int(q.get("end_time", now))
    except ValueError:
        raise BadRequest("Invalid 'end_time': expected an integer.", "end_time") from None
    width_name = q.get("bucket_width", "1d")
    if width_name not in WIDTHS or (spec.name == "costs" and width_name != "1d"):
        raise BadRequest(f"Invalid 'bucket_width': {width_name!r}.", "bucket_width")
    default, maximum = COSTS_LIMITS if spec.name == "costs" else LIMITS[width_name]
    try:
        limit = int(q.get("limit", default))
    except ValueError:
        raise BadRequest("Invalid 'limit': expected an integer.", "limit") from None
    if not 1 <= limit <= maximum:
        raise BadRequest(f"Invalid 'limit': must be between 1 and {maximum}.", "limit")
    group_by = list_param(request, "group_by")
    for key in group_by:
        if key not in spec.group_keys:
            raise BadRequest(f"Invalid 'group_by' value {key!r}.", "group_by")
    filters: dict[str, set[str]] = {}
    for name in spec.filters:
        values = list_param(request, name)
        if values:
            filters[name] = set(values)
    if (
        spec.name == "costs"
        and "user_id" in group_by
        and ("project_id" in group_by or "project_ids" in filters)
    ):
        # The API documents this as refused for some organizations and ranges: here, always.
        raise BadRequest(
            "Grouping costs by 'user_id' together with 'project_id' grouping or the "
            "'project_ids' filter is not supported for this organization and time range.",
            "group_by",
        )
    width = WIDTHS[width_name]
    first = start_time - start_time % width
    page = q.get("page")
    if page is not None:
        try:
            first = int(base64.urlsafe_b64decode(page.removeprefix("page_").encode()).decode())
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BadRequest("Invalid 'page' cursor.", "page") from None
    return {
        "start": first,
        "end": end_time,
        "width": width,
        "limit": limit,
        "group_by": group_by,
        "filters": filters,
    }


def page_body(
    usage: OpenAIUsage,
    org: str,
    spec: EndpointSpec,
    query: Mapping[str, Any],
    now: int,
    cap: int | None,
) -> dict[str, Any]:
    width, end = query["width"], query["end"]
    limit = min(query["limit"], cap) if cap else query["limit"]
    buckets: list[dict[str, Any]] = []
    b = query["start"]
    while b < end and len(buckets) < limit:
        groups = usage.grouped(org, spec, b, b + width, now, query["group_by"], query["filters"])
        if spec.level and b > now:
            groups = {}
        results = [
            result_object(spec, query["group_by"], k, v)
            for k, v in sorted(groups.items(), key=lambda kv: json.dumps(kv[0], default=str))
        ]
        buckets.append(
            {"object": "bucket", "start_time": b, "end_time": b + width, "results": results}
        )
        b += width
    more = b < end
    cursor = "page_" + base64.urlsafe_b64encode(str(b).encode()).decode() if more else None
    return {"object": "page", "data": buckets, "has_more": more, "next_page": cursor}


def authorize(request: Request, keys: Mapping[str, str]) -> str | Response:
    header = request.headers.get("authorization", "")
    key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    org = keys.get(key)
    if org is None:
        masked = f"{key[:5]}...{key[-4:]}" if len(key) > 12 else "***"
        return error(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            code="invalid_api_key",
        )
    if not key.startswith("sk-admin-"):
        return error(
            403,
            "You have insufficient permissions for this operation. Missing scopes: api.usage.read.",
            "server_error",
        )
    return org
