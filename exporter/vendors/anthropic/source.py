"""Anthropic's legacy Usage & Cost Admin API (`api: admin`): token counts per bucket from
`/v1/organizations/usage_report/messages` and daily cost from `/v1/organizations/cost_report`.

Two streams, `messages` (buckets of `bucket_width`) and `costs` (daily). A read asks for every
bucket of the window (the API includes empty buckets; `limit` counts buckets), follows
`next_page` to the end (bounded), and turns each result into flows, labelled by the configured
grouping. A grouped dimension the API answers with null gets its fixed label value
(families.NULL_LABEL). Cost `amount` is a decimal string in cents: parsed with `Decimal`, summed
per series and bucket exactly, divided by 100 and turned into a float once.

Exposition (every series also carries `target`; a dimension not grouped by is empty):

    # TYPE anthropic_output_tokens_total counter
    anthropic_output_tokens_total{target="acme",workspace_id="default",api_key_id="console",
      model="claude-sonnet-4-5-20250929",service_tier="",...,product=""} 504183
    # TYPE anthropic_cost_usd_total counter
    anthropic_cost_usd_total{target="acme",workspace_id="wrkspc_01...",cost_type="tokens",
      token_type="output_tokens",model="claude-sonnet-4-5-20250929",service_tier="standard",
      context_window="0-200k",api_key_id=""} 7.2417
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from exporter.model import Flow, Level, Stream, StreamRead, Window
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.values import quantity, timestamp
from exporter.vendors.anthropic.config import ADMIN_GROUP_BY, AnthropicConfig
from exporter.vendors.anthropic.families import (
    COST_LABELS,
    USAGE_FIELDS,
    USAGE_LABELS,
    null_label,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "/v1"  # part of every path below: a base_url ending in it is cut
ANTHROPIC_VERSION = "2023-06-01"
SPEED_BETA = "fast-mode-2026-02-01"
MESSAGES_PATH = "/v1/organizations/usage_report/messages"
COSTS_PATH = "/v1/organizations/cost_report"
ERROR_HINTS = {
    400: "Anthropic refused a parameter: check group_by / cost_group_by against the API "
    "(grouping by speed needs the fast-mode beta)",
    401: "Anthropic refused the key: the usage and cost reports need an Admin key "
    "(sk-ant-admin...; Console > Settings > Admin keys)",
    403: "the key may not read this organization's usage and cost: workspace-scoped keys "
    "(sk-ant-api...) are refused; use an Admin key",
    404: "no such API path: base_url must be the API root without /v1 "
    "(e.g. https://api.anthropic.com)",
}
WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}
PAGE_LIMIT = {"1m": 1440, "1h": 168, "1d": 31}  # the API's maximum buckets per page
COSTS_PAGE_LIMIT = 31
MAX_PAGES = 1000  # a cursor that never ends is an upstream bug: stop and fail the read
DEFAULT_LOOKBACK = {"1m": 30 * 60, "1h": 3 * 3600, "1d": 2 * 86400}
DAY = 86400
# description grouping adds these parsed fields to each cost result
DESCRIPTION_FIELDS = ("cost_type", "token_type", "model", "service_tier", "context_window")

_USAGE_DIMENSIONS = frozenset(ADMIN_GROUP_BY)  # each may come back as a result field
_NESTED = {"cache_creation": "cache_creation.", "server_tool_use": "server_tool_use."}
_KNOWN_USAGE = _USAGE_DIMENSIONS | {f.partition(".")[0] for f in USAGE_FIELDS}
_KNOWN_NESTED = frozenset(USAGE_FIELDS)
_KNOWN_COST = frozenset(
    {"amount", "currency", "workspace_id", "description", "inference_geo", *DESCRIPTION_FIELDS}
)
_KNOWN_BUCKET = frozenset({"starting_at", "ending_at", "results"})
_KNOWN_PAGE = frozenset({"data", "has_more", "next_page"})


def rfc3339(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def headers(config: AnthropicConfig) -> Mapping[str, str]:
    """`anthropic-version` on every call, and the betas the configuration needs."""
    betas = []
    if config.api == "admin" and "speed" in config.group_by:
        betas.append(SPEED_BETA)
    if config.api == "analytics":
        betas.append("analytics-usage-cost-2026-08-24")
    out = {"anthropic-version": ANTHROPIC_VERSION}
    if betas:
        out["anthropic-beta"] = ",".join(betas)
    return out


def x_api_key(secret: str) -> Mapping[str, str]:
    """Anthropic takes the key in `x-api-key`, never as a bearer token."""
    return {"x-api-key": secret}


def cents_to_usd(cents: Decimal) -> float:
    """Dollars from a sum of cents: one correctly rounded conversion at the end."""
    return float(cents / 100)


def parse_cents(value: Any, endpoint: str) -> Decimal:
    """A cost `amount`: a decimal string of cents (fractional digits allowed), finite, >= 0."""
    if not isinstance(value, str):
        raise UpstreamError(
            endpoint, f"amount: expected a decimal string of cents, got {type(value).__name__}"
        )
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise UpstreamError(endpoint, f"amount: {value[:32]!r} is not a decimal number") from None
    if not number.is_finite() or number < 0:
        raise UpstreamError(endpoint, f"amount: expected a finite amount >= 0, got {value[:32]!r}")
    return number


class AnthropicSource:
    """Reads one Anthropic organization's legacy usage and cost reports (one target)."""

    def __init__(self, config: AnthropicConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream
        width_name = str(config.bucket_width)
        streams = []
        if "messages" in config.endpoints:
            width = WIDTHS[width_name]
            lookback = int(config.lookback or DEFAULT_LOOKBACK[width_name])
            streams.append(
                Stream("messages", width, max(lookback, 2 * width), int(config.backfill))
            )
        if "costs" in config.endpoints:
            streams.append(
                Stream(
                    "costs",
                    DAY,
                    max(int(config.cost_lookback), 2 * DAY),
                    int(config.backfill),
                    month_origin=True,
                )
            )
        self._streams = tuple(streams)

    def __repr__(self) -> str:
        return f"AnthropicSource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        if stream.name == "messages":
            group_by = list(self._config.group_by)
            params = self._params(window, str(self._config.bucket_width), PAGE_LIMIT, group_by)
            parser: _Parser = UsageParser(group_by)
            path = MESSAGES_PATH
        else:
            group_by = list(self._config.cost_dimensions)
            params = self._params(window, "1d", {"1d": COSTS_PAGE_LIMIT}, group_by)
            parser = CostParser(group_by)
            path = COSTS_PATH
        async for page in self._pages(stream.name, path, params):
            parser.page(page)
        levels: list[Level] = []
        if stream.name == "costs" and self._config.monthly_budget_usd is not None:
            levels.append(Level("anthropic_cost_budget_usd", (), self._config.monthly_budget_usd))
        if parser.non_usd:
            log.warning(
                "costs in a currency other than USD were skipped",
                extra={"target": self._config.name, "currencies": ",".join(sorted(parser.non_usd))},
            )
        end = window.end if parser.last_end is None else min(window.end, parser.last_end)
        return StreamRead(
            stream.name,
            window.start,
            max(window.start, end),
            flows=parser.flows(),
            levels=levels,
            unknown_fields=len(parser.unknown),
        )

    def _params(
        self, window: Window, width: str, limits: Mapping[str, int], group_by: list[str]
    ) -> list[tuple[str, str]]:
        params = [
            ("starting_at", rfc3339(window.start)),
            ("ending_at", rfc3339(window.end)),
            ("bucket_width", width),
            ("limit", str(limits[width])),
        ]
        return params + [("group_by[]", key) for key in group_by]

    async def _pages(
        self, endpoint: str, path: str, params: list[tuple[str, str]]
    ) -> AsyncIterator[dict[str, Any]]:
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self._upstream.get_json(endpoint, path, params)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise UpstreamError(endpoint, "answer is not a report with a data list")
            yield page
            cursor = page.get("next_page")
            if page.get("has_more") is not True or not cursor:
                return
            if not isinstance(cursor, str) or cursor in seen or len(cursor) > 1024:
                raise UpstreamError(endpoint, "pagination cursor repeated or malformed")
            seen.add(cursor)
            params = [p for p in params if p[0] != "page"] + [("page", cursor)]
        raise UpstreamError(endpoint, f"more than {MAX_PAGES} pages: giving up on this read")


class _Parser:
    """Buckets of one report into exact sums per (family, labels, bucket)."""

    endpoint = ""

    def __init__(self, group_by: Sequence[str]) -> None:
        self.group_by = tuple(group_by)
        self.unknown: set[str] = set()
        self.non_usd: set[str] = set()
        self.last_end: int | None = None
        self._sums: dict[tuple[str, tuple[str, ...], int, int], Decimal | int] = {}

    def page(self, page: Mapping[str, Any]) -> None:
        self.unknown.update(f"page.{k}" for k in page if k not in _KNOWN_PAGE)
        for bucket in page["data"]:
            self.bucket(bucket)

    def bucket(self, bucket: Any) -> None:
        name = self.endpoint
        if not isinstance(bucket, dict):
            raise UpstreamError(name, "a bucket is not an object")
        start = timestamp(bucket.get("starting_at"), name)
        end = timestamp(bucket.get("ending_at"), name)
        if end <= start:
            raise UpstreamError(name, "a bucket ends before it starts")
        results = bucket.get("results")
        if not isinstance(results, list):
            raise UpstreamError(name, "bucket results is not a list")
        self.unknown.update(f"bucket.{k}" for k in bucket if k not in _KNOWN_BUCKET)
        self.last_end = end if self.last_end is None else max(self.last_end, end)
        for result in results:
            if not isinstance(result, dict):
                raise UpstreamError(name, "a result is not an object")
            self.result(result, start, end)

    def result(self, result: Mapping[str, Any], start: int, end: int) -> None:
        raise NotImplementedError

    def label(self, result: Mapping[str, Any], dimension: str) -> str:
        """A grouped dimension's label: its value, or its fixed null value."""
        value = result.get(dimension)
        if value is None:
            return null_label(dimension)
        if not isinstance(value, str):
            raise UpstreamError(self.endpoint, f"{dimension}: expected a string or null")
        return value

    def add(self, family: str, labels: tuple[str, ...], start: int, end: int, value: Any) -> None:
        key = (family, labels, start, end)
        self._sums[key] = self._sums.get(key, 0) + value

    def flows(self) -> list[Flow]:
        out = []
        for (family, labels, start, end), value in self._sums.items():
            number = cents_to_usd(value) if isinstance(value, Decimal) else float(value)
            out.append(Flow(family, labels, start, end, number))
        return out


class UsageParser(_Parser):
    """Results of the messages usage report: six counts per result."""

    endpoint = "messages"

    def result(self, result: Mapping[str, Any], start: int, end: int) -> None:
        for key, value in result.items():
            if key not in _KNOWN_USAGE:
                self.unknown.add(key)
            elif key in _NESTED and value is not None:
                if not isinstance(value, dict):
                    raise UpstreamError(self.endpoint, f"{key}: expected an object")
                self.unknown.update(
                    f"{key}.{k}" for k in value if f"{_NESTED[key]}{k}" not in _KNOWN_NESTED
                )
        grouped = {d: self.label(result, d) for d in self.group_by}
        labels = tuple(grouped.get(name, "") for name in USAGE_LABELS)
        for field, family in USAGE_FIELDS.items():
            parent, _, child = field.partition(".")
            holder = result.get(parent) if child else result
            raw = holder.get(child) if child and isinstance(holder, dict) else result.get(field)
            if raw is None:
                continue
            number = quantity(raw, self.endpoint, field)
            if number != int(number):
                raise UpstreamError(self.endpoint, f"{field}: expected a whole count")
            self.add(family, labels, start, end, int(number))


class CostParser(_Parser):
    """Results of the cost report: `amount` in cents, exact."""

    endpoint = "costs"

    def __init__(self, group_by: Sequence[str]) -> None:
        super().__init__(group_by)
        dimensions = [d for d in group_by if d != "description"]
        if "description" in group_by:
            dimensions += DESCRIPTION_FIELDS
        self.dimensions = tuple(dimensions)

    def result(self, result: Mapping[str, Any], start: int, end: int) -> None:
        self.unknown.update(k for k in result if k not in _KNOWN_COST)
        currency = result.get("currency", "USD")
        if not isinstance(currency, str):
            raise UpstreamError(self.endpoint, "currency: expected a string")
        if currency.upper() != "USD":
            self.non_usd.add(currency[:16])
            return
        amount = parse_cents(result.get("amount"), self.endpoint)
        grouped = {d: self.label(result, d) for d in self.dimensions}
        labels = tuple(grouped.get(name, "") for name in COST_LABELS)
        self.add("anthropic_cost_usd_total", labels, start, end, amount)
