"""The OpenAI organization Usage & Costs API, as the simulator speaks it.

Paths, parameters, limits, pagination, result objects and error envelopes follow the OpenAI
section of the upstream notes. Values come from `usage.py`, so any bucket width agrees with any
other and `truth()` can answer, for any group, what the API itself would sum to.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.simulator.twin import Shape
from exporter.simulator.usage import HOUR, MINUTE, Key, Revisions, digest, rate, visible

WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}
LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
COSTS_LIMITS = (7, 180)

PROJECTS = ("proj_alpha", "proj_beta", "proj_gamma")
USERS = ("user-ana", "user-bo")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    maximum: int = 0  # root field: per-minute rate below 2*maximum
    parent: str = ""  # part field: a share of the parent's rate
    share: int = 0  # at most this percentage of the parent
    sum_of: tuple[str, ...] = ()  # total field: exactly the sum of these fields, revisions too


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    result_object: str
    group_keys: tuple[str, ...]
    dims: dict[str, tuple[Any, ...]]
    fields: tuple[FieldSpec, ...]
    filters: dict[str, str]  # query filter name -> dimension
    level: bool = False


def _usage_filters(*extra: tuple[str, str]) -> dict[str, str]:
    return {
        "project_ids": "project_id",
        "user_ids": "user_id",
        "api_key_ids": "api_key_id",
        "models": "model",
        **dict(extra),
    }


_TOKENS = (
    FieldSpec("input_tokens", 1500),
    FieldSpec("output_tokens", 400),
    FieldSpec("num_model_requests", 4),
    FieldSpec("input_cached_tokens", parent="input_tokens", share=60),
    FieldSpec("input_audio_tokens", parent="input_tokens", share=10),
    FieldSpec("output_audio_tokens", parent="output_tokens", share=10),
    FieldSpec("input_cache_write_12h_tokens", parent="input_tokens", share=6),
    FieldSpec("input_cache_write_30m_tokens", parent="input_tokens", share=6),
    FieldSpec(
        "input_cache_write_tokens",
        sum_of=("input_cache_write_12h_tokens", "input_cache_write_30m_tokens"),
    ),
    FieldSpec("input_uncached_tokens", parent="input_tokens", share=40),
    FieldSpec("input_text_tokens", parent="input_tokens", share=40),
    FieldSpec("output_text_tokens", parent="output_tokens", share=90),
    FieldSpec("input_cached_text_tokens", parent="input_cached_tokens", share=90),
    FieldSpec("input_cached_audio_tokens", parent="input_cached_tokens", share=5),
    FieldSpec("input_image_tokens", parent="input_tokens", share=10),
    FieldSpec("input_cached_image_tokens", parent="input_image_tokens", share=20),
    FieldSpec("output_image_tokens", parent="output_tokens", share=5),
)
_BASE = {"project_id": PROJECTS, "user_id": USERS}
_FOUR = ("project_id", "user_id", "api_key_id", "model")
_COMPLETIONS_KEYS = (*_FOUR, "batch", "service_tier", "api_source")
API_SOURCES = ("agents_api", "unlabeled")

# Costs line items: the unit the API names for `quantity` and the price of one unit in
# micro-dollars. Prices are powers of two, so quantity = cost / price is exact in binary and
# sums of quantities are exact in any order. `calls` is not one of the units the API lists: a
# unit the exporter has not seen must still be exported verbatim.
LINE_ITEMS: dict[str, tuple[str, int]] = {
    "gpt-4o-mini, input": ("1000_tokens", 128),
    "gpt-4o-mini, output": ("1000_tokens", 512),
    "gpt-4.1, input": ("tokens", 2),
    "web search tool calls": ("calls", 8192),
}

ENDPOINTS: dict[str, EndpointSpec] = {
    e.name: e
    for e in (
        EndpointSpec(
            "completions",
            "organization.usage.completions.result",
            _COMPLETIONS_KEYS,
            {
                **_BASE,
                "model": ("gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "o3-mini"),
                "batch": (False, True),
            },
            _TOKENS,
            _usage_filters(("batch", "batch")),
        ),
        EndpointSpec(
            "decisions",
            "organization.usage.decisions.result",
            _COMPLETIONS_KEYS,
            {**_BASE, "model": ("gpt-6-luna",), "batch": (False, True)},
            _TOKENS,
            _usage_filters(("batch", "batch")),
        ),
        EndpointSpec(
            "embeddings",
            "organization.usage.embeddings.result",
            _FOUR,
            {**_BASE, "model": ("text-embedding-3-small", "text-embedding-3-large")},
            (FieldSpec("input_tokens", 3000), FieldSpec("num_model_requests", 6)),
            _usage_filters(),
        ),
        EndpointSpec(
            "moderations",
            "organization.usage.moderations.result",
            _FOUR,
            {**_BASE, "model": ("omni-moderation-latest",)},
            (FieldSpec("input_tokens", 800), FieldSpec("num_model_requests", 5)),
            _usage_filters(),
        ),
        EndpointSpec(
            "images",
            "organization.usage.images.result",
            (*_FOUR, "size", "source"),
            {
                **_BASE,
                "model": ("gpt-image-1", "dall-e-3"),
                "size": ("1024x1024", "1792x1792"),
                "source": ("image.generation", "image.edit"),
            },
            (FieldSpec("images", 3), FieldSpec("num_model_requests", 2)),
            _usage_filters(("sources", "source"), ("sizes", "size")),
        ),
        EndpointSpec(
            "audio_speeches",
            "organization.usage.audio_speeches.result",
            _FOUR,
            {**_BASE, "model": ("tts-1", "gpt-4o-mini-tts")},
            (FieldSpec("characters", 900), FieldSpec("num_model_requests", 3)),
            _usage_filters(),
        ),
        EndpointSpec(
            "audio_transcriptions",
            "organization.usage.audio_transcriptions.result",
            _FOUR,
            {**_BASE, "model": ("whisper-1",)},
            (FieldSpec("seconds", 120), FieldSpec("num_model_requests", 2)),
            _usage_filters(),
        ),
        EndpointSpec(
            "vector_stores",
            "organization.usage.vector_stores.result",
            ("project_id",),
            {"project_id": PROJECTS},
            (FieldSpec("usage_bytes"),),
            {"project_ids": "project_id"},
            level=True,
        ),
        EndpointSpec(
            "code_interpreter_sessions",
            "organization.usage.code_interpreter_sessions.result",
            ("project_id",),
            {"project_id": PROJECTS},
            (FieldSpec("num_sessions", 2),),
            {"project_ids": "project_id"},
        ),
        EndpointSpec(
            "file_search_calls",
            "organization.usage.file_searches.result",
            ("project_id", "user_id", "api_key_id", "vector_store_id"),
            {**_BASE, "vector_store_id": ("vs_docs", "vs_support")},
            (FieldSpec("num_requests", 5),),
            {
                "project_ids": "project_id",
                "user_ids": "user_id",
                "api_key_ids": "api_key_id",
                "vector_store_ids": "vector_store_id",
            },
        ),
        EndpointSpec(
            "web_search_calls",
            "organization.usage.web_searches.result",
            (*_FOUR, "context_level", "api_source"),
            {**_BASE, "model": ("gpt-4.1-2025-04-14",), "context_level": ("low", "medium", "high")},
            (FieldSpec("num_requests", 4), FieldSpec("num_model_requests", 3)),
            _usage_filters(("context_levels", "context_level")),
        ),
        EndpointSpec(
            "costs",
            "organization.costs.result",
            ("project_id", "line_item", "api_key_id", "api_source", "user_id"),
            {"project_id": PROJECTS, "user_id": USERS, "line_item": tuple(LINE_ITEMS)},
            (FieldSpec("micro_usd", 2500),),
            {"project_ids": "project_id", "api_key_ids": "api_key_id"},
        ),
    )
}


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


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    dims: dict[str, Any]


def rows(spec: EndpointSpec) -> list[Row]:
    names = list(spec.dims)
    out = []
    for index, values in enumerate(itertools.product(*(spec.dims[n] for n in names))):
        dims = dict(zip(names, values, strict=True))
        if "api_key_id" in spec.group_keys:
            dims["api_key_id"] = f"key_{str(dims['project_id']).removeprefix('proj_')}"
        if spec.name in ("completions", "decisions"):
            dims["service_tier"] = "batch" if dims["batch"] else "default"
        if "api_source" in spec.group_keys:  # about a third of the raw rows come from Agents
            dims["api_source"] = API_SOURCES[min(1, digest("api_source", spec.name, index)[0] % 3)]
        out.append(Row(index, dims))
    return out


_ROWS = {name: rows(spec) for name, spec in ENDPOINTS.items()}


class OpenAIUsage:
    """The usage of every organization, as of any time."""

    def __init__(self, seed: int, usage_start: int, late: int) -> None:
        self.seed = seed
        self.usage_start = usage_start - usage_start % HOUR
        self.late = late
        self.revisions = Revisions(late)

    def _rate(self, org: str, spec: EndpointSpec, row: Row, field: FieldSpec, hour: int) -> int:
        if hour < self.usage_start:
            return 0
        if field.parent:
            parent = next(f for f in spec.fields if f.name == field.parent)
            whole = self._rate(org, spec, row, parent, hour)
            pct = digest(self.seed, org, spec.name, row.index, field.name, hour)[6] % (
                field.share + 1
            )
            return 2 * ((whole // 2) * pct // 100)
        # a few rows are busy, most are quiet: the data looks like real usage
        busy = digest(self.seed, org, spec.name, row.index)[0] % 4 != 0
        return rate(
            self.seed,
            org,
            spec.name,
            row.index,
            field.name,
            hour,
            maximum=field.maximum if busy else max(1, field.maximum // 20),
        )

    def value(
        self,
        org: str,
        spec: EndpointSpec,
        row: Row,
        field: FieldSpec,
        start: int,
        end: int,
        now: int,
    ) -> int:
        if spec.level:
            return self.stored_bytes(org, row, min(end, now))
        if field.sum_of:
            return sum(
                self.value(org, spec, row, _field(spec, part), start, end, now)
                for part in field.sum_of
            )
        start = max(start, self.usage_start)
        generated = visible(
            lambda h: self._rate(org, spec, row, field, h), start, end, now, self.late
        )
        return generated + self.revisions.shift(
            (org, spec.name, row.index, field.name), start, end, now
        )

    def revise(self, org: str, endpoint: str, up: bool, now: int, rng: Random) -> bool:
        """A late revision of one closed minute of the endpoint (any counted endpoint when it
        is a level), for one raw row and field."""
        spec = ENDPOINTS.get(endpoint) or ENDPOINTS["vector_stores"]
        if spec.level:
            counted = sorted(n for n, s in ENDPOINTS.items() if not s.level)
            spec = ENDPOINTS[counted[rng.randrange(len(counted))]]
        series: dict[Key, tuple[Row, FieldSpec]] = {
            (org, spec.name, r.index, f.name): (r, f)
            for r in _ROWS[spec.name]
            for f in spec.fields
            if not f.sum_of  # a total follows its parts' revisions
        }

        def minute_value(key: Key, minute: int) -> int:
            row, field = series[key]
            return self.value(org, spec, row, field, minute, minute + MINUTE, now)

        return self.revisions.revise(up, list(series), minute_value, now, rng)

    def stored_bytes(self, org: str, row: Row, at: int) -> int:
        if at <= self.usage_start:
            return 0
        base = 1_000_000 * (1 + digest(self.seed, org, "vs", row.index)[0] % 50)
        return base + 4096 * ((at - self.usage_start) // HOUR)

    def grouped(
        self,
        org: str,
        spec: EndpointSpec,
        start: int,
        end: int,
        now: int,
        group_by: Sequence[str],
        filters: Mapping[str, set[str]],
    ) -> dict[tuple[Any, ...], dict[str, float]]:
        groups: dict[tuple[Any, ...], dict[str, float]] = {}
        for row in _ROWS[spec.name]:
            if not _passes(row, spec, filters):
                continue
            key = tuple(row.dims.get(k) for k in group_by)
            sums = groups.setdefault(key, {})
            for field in spec.fields:
                v = self.value(org, spec, row, field, start, end, now)
                sums[field.name] = sums.get(field.name, 0) + v
                if field.name == "micro_usd":  # the billed quantity of the row's line item
                    price = LINE_ITEMS[str(row.dims["line_item"])][1]
                    sums["quantity"] = sums.get("quantity", 0) + v / price
        return {k: v for k, v in groups.items() if any(v.values())}


def _field(spec: EndpointSpec, name: str) -> FieldSpec:
    return next(f for f in spec.fields if f.name == name)


def _passes(row: Row, spec: EndpointSpec, filters: Mapping[str, set[str]]) -> bool:
    for name, allowed in filters.items():
        dim = spec.filters[name]
        value = row.dims.get(dim)
        shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if shown not in allowed:
            return False
    return True


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


def _list_param(request: Request, name: str) -> list[str]:
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
    group_by = _list_param(request, "group_by")
    for key in group_by:
        if key not in spec.group_keys:
            raise BadRequest(f"Invalid 'group_by' value {key!r}.", "group_by")
    filters: dict[str, set[str]] = {}
    for name in spec.filters:
        values = _list_param(request, name)
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


def truth(
    usage: OpenAIUsage,
    org: str,
    endpoint: str,
    start: int,
    now: int,
    group_by: Sequence[str],
    filters: Mapping[str, set[str]],
) -> list[dict[str, Any]]:
    spec = ENDPOINTS[endpoint]
    if spec.level:
        day = now - now % 86400
        groups = usage.grouped(org, spec, day, day + 86400, now, group_by, filters)
    else:
        groups = usage.grouped(org, spec, start, now + 3600, now, group_by, filters)
    rows_out = []
    for key, sums in groups.items():
        values: dict[str, Any] = dict(sums)
        row: dict[str, Any] = {"group": dict(zip(group_by, key, strict=True)), "values": values}
        if endpoint == "costs":
            values = {"amount": sums["micro_usd"] / 1e6, "micro_usd": sums["micro_usd"]}
            item = row["group"].get("line_item")
            if item is not None:  # quantities are reported per line item only
                values["quantity"] = sums["quantity"]
                row["quantity_unit"] = LINE_ITEMS[str(item)][0]
            row["values"] = values
        rows_out.append(row)
    return rows_out


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


def iter_paths() -> Iterator[tuple[str, str]]:
    for name in ENDPOINTS:
        path = "/v1/organization/costs" if name == "costs" else f"/v1/organization/usage/{name}"
        yield name, path
