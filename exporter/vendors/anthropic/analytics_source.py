"""Anthropic Usage and Cost Analytics API (beta, `api: analytics`): usage and cost as exact
counters, with a slow sweep that catches revisions up to 30 days old.

`GET /v1/organizations/analytics/usage` and `/cost` answer flat rows, one per time bucket and
group with any usage, `{starting_at, ending_at, group{...}, usage{...} | cost{...}}`; a row
missing from a re-read range means zero. Every call sends `anthropic-beta:
analytics-usage-cost-2026-08-24`, sets `ending_at` (required with `time_bucket_width`), spans at
most 31 days (24 hours with `1m` buckets), starts no earlier than 2026-01-01, asks for rows in
time order (`order_by=time&order=asc`) and follows `next_page` without changing a parameter.

The revision sweep (`analytics_sweep.py`) decides where each read starts; the rows become flows
in `analytics_rows.py`. This module reads: request ranges, pages and the request budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from exporter.model import Level, Stream, StreamRead, Window, align_up
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.values import timestamp
from exporter.vendors.anthropic.analytics_rows import ENDPOINT, Row, RowParser
from exporter.vendors.anthropic.analytics_sweep import (
    SweepState,
    finished,
    plan,
    request_budget,
    spans,
)
from exporter.vendors.anthropic.config import (
    ANALYTICS_HISTORY_START,
    ANALYTICS_MAX_SPAN,
    DAY,
    AnthropicConfig,
)
from exporter.vendors.anthropic.source import DEFAULT_LOOKBACK, rfc3339

log = logging.getLogger(__name__)

BETA = "analytics-usage-cost-2026-08-24"
PATHS = {
    "messages": "/v1/organizations/analytics/usage",
    "costs": "/v1/organizations/analytics/cost",
}
WIDTHS = {"1m": 60, "1h": 3600, "1d": DAY}
MAX_SPAN = {"1m": DAY, "1h": ANALYTICS_MAX_SPAN, "1d": ANALYTICS_MAX_SPAN}  # per request
RECENT = DEFAULT_LOOKBACK  # a normal read's default reach: the legacy API's `lookback`
PAGE_ROWS = 1000  # the API's largest `limit` (rows; cost fan-out rows are not counted)
HISTORY_DAYS = 365  # `starting_at` must be within the last 365 days
REFRESHED = "anthropic_data_refreshed_timestamp_seconds"
BUDGET = "anthropic_cost_budget_usd"

_PAGE_KEYS = frozenset({"data", "has_more", "next_page", "data_refreshed_at"})


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
