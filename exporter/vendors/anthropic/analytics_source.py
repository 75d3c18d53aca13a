"""Anthropic Usage and Cost Analytics API (beta, `api: analytics`): usage and cost as exact
counters, with a slow sweep that catches revisions up to 30 days old.

`GET /v1/organizations/analytics/usage` and `/cost` answer flat rows, one per time bucket and
group with any usage, `{starting_at, ending_at, group{...}, usage{...} | cost{...}}`; a row
missing from a re-read range means zero. Every call sends `anthropic-beta:
analytics-usage-cost-2026-08-24`, sets `ending_at` (required with `time_bucket_width`), spans at
most 31 days (24 hours with `1m` buckets), starts no earlier than 2026-01-01, asks for rows in
time order (`order_by=time&order=asc`) and follows `next_page` without changing a parameter.

The revision sweep (docs/architecture.md, "Where the code departs"): each stream declares
`lookback = revision_window`, so the ledger keeps its buckets open that long; a normal read
covers only the recent `lookback` (`StreamRead.start` later than the window's: older buckets
stay as they are), and every `sweep_interval` (and at the first read of a process) a read
covers the whole window, so a row missing there is zero. A read spends at most its share of
the API's 60 requests a minute; one cut short by that budget covers the whole buckets it read
(rows come in time order) and the next read goes on from there. `plan` holds the decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from exporter.model import Flow, Level, Stream, StreamRead, Window, align_down, align_up
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.values import quantity, timestamp
from exporter.vendors.anthropic.config import (
    ANALYTICS_HISTORY_START,
    ANALYTICS_MAX_SPAN,
    DAY,
    AnthropicConfig,
)
from exporter.vendors.anthropic.families import COST_LABELS, USAGE_FIELDS, USAGE_LABELS, null_label
from exporter.vendors.anthropic.source import DEFAULT_LOOKBACK, rfc3339

log = logging.getLogger(__name__)

BETA = "analytics-usage-cost-2026-08-24"
PATHS = {
    "messages": "/v1/organizations/analytics/usage",
    "costs": "/v1/organizations/analytics/cost",
}
ENDPOINT = {"messages": "usage", "costs": "cost"}  # the `endpoint` label of the refresh gauge
WIDTHS = {"1m": 60, "1h": 3600, "1d": DAY}
MAX_SPAN = {"1m": DAY, "1h": ANALYTICS_MAX_SPAN, "1d": ANALYTICS_MAX_SPAN}  # per request
RECENT = DEFAULT_LOOKBACK  # a normal read's default reach: the legacy API's `lookback`
PAGE_ROWS = 1000  # the API's largest `limit` (rows; cost fan-out rows are not counted)
RATE_PER_MINUTE = 60  # the organization's budget for the whole Analytics API
HISTORY_DAYS = 365  # `starting_at` must be within the last 365 days
REFRESHED = "anthropic_data_refreshed_timestamp_seconds"
REQUESTS = "anthropic_requests_total"
COST = "anthropic_cost_usd_total"
LIST_COST = "anthropic_list_cost_usd_total"
BUDGET = "anthropic_cost_budget_usd"

_PAGE_KEYS = frozenset({"data", "has_more", "next_page", "data_refreshed_at"})
_ROW_KEYS = {"messages": frozenset({"starting_at", "ending_at", "group", "usage"})}
_ROW_KEYS["costs"] = frozenset({"starting_at", "ending_at", "group", "cost"})
# the group keys of BetaAnalyticsUsageGroup / BetaAnalyticsCostGroup (SDK 2.10.0)
_GROUP_KEYS = frozenset(
    {
        "actor",
        "actor_type",
        "agent_id",
        "api_key_id",
        "claude_tag_category",
        "claude_tag_user_id",
        "context_window",
        "cost_type",
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
        "token_type",
        "user_profile_id",
        "workspace_id",
    }
)
_USAGE_KEYS = frozenset(
    {
        "uncached_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "output_tokens",
        "server_tool_use",
        "total_tokens",
        "requests",
    }
)
_NESTED_KEYS = {
    "cache_creation": frozenset({"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}),
    "server_tool_use": frozenset({"web_search_requests"}),
}
_COST_KEYS = frozenset({"amount", "list_amount", "currency", "requests"})
_TOKEN_FIELDS = tuple(f for f in USAGE_FIELDS if not f.startswith("server_tool_use."))


Item = tuple[str, tuple[str, ...], int | Decimal]  # family, labels, value
Row = tuple[int, int, list[Item]]  # a row's bucket start and end, and its items


# --- the sweep plan (pure) ------------------------------------------------------------------


@dataclass(slots=True)
class SweepState:
    """What one stream's reads remember, in memory only: a restart starts with a sweep, which
    re-reads everything a stopped sweep or cut read left, so nothing depends on it surviving.

    `swept`: when the last sweep reached the open bucket (unix s); `resume`: where a read cut
    short by its request budget goes on; `sweeping`: that read is part of a sweep; `read_to`:
    the end of the last read's coverage (a normal read reaches back to it after a gap)."""

    swept: int | None = None
    resume: int | None = None
    sweeping: bool = False
    read_to: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a read's coverage starts, and whether it is part of a sweep."""

    start: int
    sweep: bool


def plan(window: Window, now: int, width: int, recent: int, every: int, state: SweepState) -> Plan:
    """The coverage start of the next read of `window` (the planner's: from the ledger's cursor,
    `revision_window` back, to the open bucket)."""
    if state.resume is not None:  # a cut read goes on where it stopped
        start, sweep = max(window.start, state.resume), state.sweeping
    elif state.swept is None or now - state.swept >= every:
        start, sweep = window.start, True
    else:
        start = align_down(now - recent, width)
        if state.read_to is not None:  # reach back over a gap (an outage) since the last read
            start = min(start, state.read_to)
        start, sweep = max(window.start, start), False
    if start >= window.end:  # the window lies before the recent reach (catching up): all of it
        start = window.start
    return Plan(start, sweep)


def finished(state: SweepState, plan: Plan, window: Window, covered_to: int, now: int) -> None:
    """Record a successful read of `[plan.start, covered_to)`."""
    state.read_to = covered_to
    if covered_to < window.end:  # cut short by the request budget
        state.resume, state.sweeping = covered_to, plan.sweep
        return
    state.resume, state.sweeping = None, False
    if plan.sweep and covered_to > plan.start:  # an empty window (a hand-over's) is no sweep
        state.swept = now


def spans(start: int, end: int, width: int, longest: int) -> list[tuple[int, int]]:
    """`[start, end)` cut into request ranges of at most `longest` seconds, on bucket bounds."""
    step = max(width, align_down(longest, width))
    out = []
    while start < end:
        out.append((start, min(start + step, end)))
        start += step
    return out


def request_budget(interval: int, streams: int) -> int:
    """Requests one read may make: its share of one minute of the API's rate limit (a poll
    never spends more than a minute's worth, whatever its interval)."""
    return max(1, RATE_PER_MINUTE * min(interval, 60) // 60 // max(1, streams))


# --- rows to flows --------------------------------------------------------------------------


@dataclass
class RowParser:
    """Turns rows of one endpoint into per-bucket sums: counts as ints, money as `Decimal` in
    dollars (cents / 100), converted to float once per flow by `flows`."""

    endpoint: str  # messages | costs
    dimensions: tuple[str, ...]  # the configured grouping
    sums: dict[tuple[str, tuple[str, ...], int], tuple[int, int | Decimal]] = field(
        default_factory=dict
    )
    unknown: set[str] = field(default_factory=set)
    inconsistencies: int = 0
    non_usd: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"analytics/{ENDPOINT[self.endpoint]}"

    def row(self, row: Any) -> Row:
        """The row's bucket `[start, end)` and its (family, labels, value) items."""
        if not isinstance(row, dict):
            raise UpstreamError(self.name, "a row is not an object")
        start = timestamp(row.get("starting_at"), self.name)
        end = timestamp(row.get("ending_at"), self.name)
        if end <= start:
            raise UpstreamError(self.name, "a row ends before it starts")
        for key in row:
            if key not in _ROW_KEYS[self.endpoint]:
                self.unknown.add(f"row.{key}")
        group = row.get("group")
        if not isinstance(group, dict):
            raise UpstreamError(self.name, "a row's group is not an object")
        for key in group:
            if key not in _GROUP_KEYS:
                self.unknown.add(f"group.{key}")
        if self.endpoint == "messages":
            items = self._usage(row.get("usage"), self._labels(group, USAGE_LABELS))
        else:
            items = self._cost(row.get("cost"), self._labels(group, COST_LABELS))
        return start, end, list(items)

    def add_all(self, rows: Sequence[Row]) -> None:
        """Sum the rows' items per family, labels and bucket (labels may coincide once nulls
        are mapped), exactly: ints and Decimals."""
        for start, end, items in rows:
            for family, labels, value in items:
                key = (family, labels, start)
                seen = self.sums.get(key)
                self.sums[key] = (end, value if seen is None else seen[1] + value)

    def flows(self) -> list[Flow]:
        return [
            Flow(family, labels, start, end, float(value))
            for (family, labels, start), (end, value) in self.sums.items()
        ]

    def _labels(self, group: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for name in names:
            if name not in self.dimensions:
                out.append("")
                continue
            value = group.get(name)
            if value is None:
                out.append(null_label(name))
            elif isinstance(value, str):
                out.append(value)
            else:
                raise UpstreamError(self.name, f"group.{name} is not a string")
        return tuple(out)

    def _count(self, value: Any, field: str) -> int:
        number = quantity(value, self.name, field)
        if number != int(number):
            raise UpstreamError(self.name, f"{field}: expected a whole number, got {number}")
        return int(number)

    def _usage(self, usage: Any, labels: tuple[str, ...]) -> Iterator[Item]:
        if not isinstance(usage, dict):
            raise UpstreamError(self.name, "a row's usage is not an object")
        for key in usage:
            if key not in _USAGE_KEYS:
                self.unknown.add(f"usage.{key}")
        for key, known in _NESTED_KEYS.items():
            nested = usage.get(key)
            if not isinstance(nested, dict):
                raise UpstreamError(self.name, f"usage.{key} is not an object")
            self.unknown.update(f"usage.{key}.{k}" for k in nested if k not in known)
        counts = {}
        for dotted, family in USAGE_FIELDS.items():
            outer, _, inner = dotted.partition(".")
            raw = usage[outer].get(inner) if inner else usage.get(outer)  # missing: refused
            counts[dotted] = self._count(raw, dotted)
            yield family, labels, counts[dotted]
        total = usage.get("total_tokens")
        if total is not None and self._count(total, "total_tokens") != sum(
            counts[f] for f in _TOKEN_FIELDS
        ):
            self.inconsistencies += 1  # the parts do not add up to the total
        requests = usage.get("requests")
        if requests is not None:
            yield REQUESTS, labels, self._count(requests, "requests")

    def _cost(self, cost: Any, labels: tuple[str, ...]) -> Iterator[Item]:
        if not isinstance(cost, dict):
            raise UpstreamError(self.name, "a row's cost is not an object")
        for key in cost:
            if key not in _COST_KEYS:
                self.unknown.add(f"cost.{key}")
        currency = cost.get("currency")
        if not isinstance(currency, str):
            raise UpstreamError(self.name, "cost.currency is not a string")
        if currency.upper() != "USD":
            self.non_usd.add(currency[:16])
            return
        yield COST, labels, self._dollars(cost.get("amount"), "amount")
        yield LIST_COST, labels, self._dollars(cost.get("list_amount"), "list_amount")

    def _dollars(self, value: Any, field: str) -> Decimal:
        """A decimal string of cents as exact dollars (never through a float)."""
        if not isinstance(value, str):
            raise UpstreamError(self.name, f"cost.{field}: expected a decimal string")
        try:
            cents = Decimal(value)
        except InvalidOperation:
            raise UpstreamError(
                self.name, f"cost.{field}: {value[:32]!r} is not a decimal"
            ) from None
        if not cents.is_finite() or cents < 0:
            raise UpstreamError(self.name, f"cost.{field}: expected a finite amount >= 0")
        return cents / 100


# --- the source -----------------------------------------------------------------------------


class AnalyticsSource:
    """Reads one organization's usage and cost from the Analytics API (one target)."""

    def __init__(
        self,
        config: AnthropicConfig,
        upstream: Upstream,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._upstream = upstream
        self._clock = clock
        self._width_name = str(config.bucket_width)
        self._width = WIDTHS[self._width_name]
        self._streams = tuple(self._stream(name) for name in config.endpoints)
        self._budget = request_budget(int(config.interval), len(self._streams))
        self._state: dict[str, SweepState] = {s.name: SweepState() for s in self._streams}
        # the newest `data_refreshed_at` per stream: a page without one keeps the gauge (and a
        # lag alert on it) where it was, instead of dropping it
        self._refreshed: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"AnalyticsSource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    def recent(self, endpoint: str) -> int:
        """How far back a normal (not sweeping) read reaches."""
        if endpoint == "costs":
            reach = int(self._config.cost_lookback)
        else:
            reach = int(self._config.lookback or RECENT[self._width_name])
        return max(reach, 2 * self._width)

    def _stream(self, endpoint: str) -> Stream:
        # The ledger keeps buckets open for the whole revision window; reads choose their reach.
        lookback = max(self._config.revision_seconds, self.recent(endpoint))
        return Stream(
            endpoint,
            self._width,
            lookback=lookback,
            backfill=int(self._config.backfill),
            month_origin=endpoint == "costs",
        )

    def dimensions(self, endpoint: str) -> tuple[str, ...]:
        if endpoint == "costs":
            return tuple(self._config.cost_dimensions)
        return tuple(self._config.group_by)

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        now = int(self._clock())
        state = self._state[stream.name]
        chosen = plan(
            window, now, self._width, self.recent(stream.name), self._config.sweep_seconds, state
        )
        parser = RowParser(stream.name, self.dimensions(stream.name))
        covered_to, refreshed = await self._read(stream.name, chosen.start, window.end, now, parser)
        finished(state, chosen, window, covered_to, now)
        if parser.non_usd:
            log.warning(
                "costs in a currency other than USD were skipped",
                extra={"target": self._config.name, "currencies": ",".join(sorted(parser.non_usd))},
            )
        levels: list[Level] = []
        if refreshed is not None:
            self._refreshed[stream.name] = max(
                float(refreshed), self._refreshed.get(stream.name, 0)
            )
        if stream.name in self._refreshed:
            levels.append(Level(REFRESHED, (ENDPOINT[stream.name],), self._refreshed[stream.name]))
        if stream.name == "costs" and self._config.monthly_budget_usd is not None:
            levels.append(Level(BUDGET, (), float(self._config.monthly_budget_usd)))
        return StreamRead(
            stream.name,
            chosen.start,
            covered_to,
            flows=parser.flows(),
            levels=levels,
            unknown_fields=len(parser.unknown),
            inconsistencies=parser.inconsistencies,
        )

    async def _read(
        self, endpoint: str, start: int, end: int, now: int, parser: RowParser
    ) -> tuple[int, int | None]:
        """Read `[start, end)` into `parser`, oldest rows first, within the request budget.
        Returns how far the read got (`end` when whole) and the newest `data_refreshed_at`."""
        oldest = max(ANALYTICS_HISTORY_START, align_up(now - (HISTORY_DAYS - 1) * DAY, self._width))
        left = self._budget
        refreshed: int | None = None
        for first, last in spans(max(start, oldest), end, self._width, MAX_SPAN[self._width_name]):
            base = self._params(endpoint, first, last)
            params, seen = base, set()
            pending: list[Row] = []  # the rows of the newest bucket: it may go on next page
            newest = first  # every bucket before it was read whole
            while True:
                if left == 0:  # out of budget: keep the buckets read whole (rows in time order)
                    if newest <= start:
                        raise UpstreamError(
                            parser.name,
                            f"no whole bucket within {self._budget} requests (the read's share "
                            "of the API's 60 a minute): group by fewer dimensions",
                        )
                    return newest, refreshed
                left -= 1
                page = await self._page(parser, endpoint, params)
                stamp = page.get("data_refreshed_at")
                if stamp is not None:
                    stamp_s = timestamp(stamp, parser.name)
                    refreshed = stamp_s if refreshed is None else max(refreshed, stamp_s)
                for raw in page["data"]:
                    row = parser.row(raw)
                    if row[0] < newest:
                        raise UpstreamError(parser.name, "rows are not in time order")
                    if not first <= row[0] < last:
                        raise UpstreamError(parser.name, "a row outside the range asked for")
                    if row[0] > newest:
                        parser.add_all(pending)
                        pending, newest = [], row[0]
                    pending.append(row)
                cursor = page.get("next_page")
                if page.get("has_more") is False:
                    break
                if not cursor:  # more rows without a way to them: the range is not covered
                    raise UpstreamError(parser.name, "has_more without a next_page cursor")
                if not isinstance(cursor, str) or cursor in seen:
                    raise UpstreamError(parser.name, "pagination cursor repeated or malformed")
                seen.add(cursor)
                params = [*base, ("page", cursor)]  # the same query, with its cursor
            parser.add_all(pending)
        return end, refreshed

    def _params(self, endpoint: str, start: int, end: int) -> list[tuple[str, str]]:
        params = [
            ("starting_at", rfc3339(start)),
            ("ending_at", rfc3339(end)),
            ("time_bucket_width", self._width_name),
            ("limit", str(PAGE_ROWS)),
            ("order_by", "time"),
            ("order", "asc"),
        ]
        return params + [("group_by[]", d) for d in self.dimensions(endpoint)]

    async def _page(
        self, parser: RowParser, endpoint: str, params: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        response = await self._upstream.get(
            parser.name, PATHS[endpoint], params, headers={"anthropic-beta": BETA}, decode_json=True
        )
        page = response.data
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise UpstreamError(parser.name, "answer is not a page object with a data list")
        parser.unknown.update(f"page.{k}" for k in page if k not in _PAGE_KEYS)
        return page
