"""OpenAI organization Usage & Costs API: the reader of one organization.

One stream per endpoint. A read asks for every bucket of the window (following `has_more` /
`next_page` to the end) and hands each page's buckets to the parser (parse.py). It knows the
vendor's JSON and nothing of Prometheus or the ledger; the API's facts are in api.py, the
metric table in metrics.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from exporter.model import Flow, Level, Stream, StreamRead, Window
from exporter.upstream import Upstream, UpstreamError
from exporter.vendors.openai.api import (
    BUCKET_WIDTHS,
    COSTS_PAGE_LIMIT,
    ENDPOINTS,
    MAX_PAGES,
    OPENAI_OVERRIDE_ONLY,
    WIDTHS,
    Endpoint,
)
from exporter.vendors.openai.config import OpenAIConfig, OpenAIEndpointOverride
from exporter.vendors.openai.parse import BucketParser

log = logging.getLogger(__name__)


class OpenAISource:
    """Reads one OpenAI organization (one target)."""

    def __init__(self, config: OpenAIConfig, upstream: Upstream) -> None:
        self._config = config
        self._overrides: dict[str, OpenAIEndpointOverride] = {
            str(k): v for k, v in config.overrides.items()
        }
        self._upstream = upstream
        self._streams = tuple(self._stream(name) for name in config.endpoints)

    def __repr__(self) -> str:
        return f"OpenAISource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    def _width_name(self, endpoint: str) -> str:
        return "1d" if endpoint in ("costs", "vector_stores") else str(self._config.bucket_width)

    def _stream(self, endpoint: str) -> Stream:
        width_name = self._width_name(endpoint)
        width = WIDTHS[width_name]
        override = self._overrides.get(endpoint)
        lookback = (override.lookback if override and override.lookback else None) or (
            self._config.lookback or BUCKET_WIDTHS[width_name].default_lookback
        )
        if endpoint == "vector_stores":  # a level: only the newest buckets matter
            return Stream(endpoint, 0, 0, 0)
        return Stream(
            endpoint,
            width,
            lookback=max(int(lookback), 2 * width),
            backfill=int(self._config.backfill),
            month_origin=endpoint == "costs",
        )

    def group_by(self, endpoint: str) -> tuple[str, ...]:
        """The configured keys this endpoint supports (or its override, as given)."""
        spec = ENDPOINTS[endpoint]
        override = self._overrides.get(endpoint)
        if override is not None and override.group_by is not None:
            return tuple(override.group_by)
        only_override = OPENAI_OVERRIDE_ONLY.get(endpoint, ())
        return tuple(
            k for k in self._config.group_by if k in spec.group_by and k not in only_override
        )

    def _params(self, spec: Endpoint, window: Window) -> list[tuple[str, str]]:
        width_name = self._width_name(spec.name)
        limit = COSTS_PAGE_LIMIT if spec.name == "costs" else BUCKET_WIDTHS[width_name].page_limit
        params = [
            ("start_time", str(window.start)),
            ("end_time", str(window.end)),
            ("bucket_width", width_name),
            ("limit", str(limit)),
        ]
        params += [("group_by", key) for key in self.group_by(spec.name)]
        for name in spec.filters:
            value = getattr(self._config, name, None)
            if value is None:
                continue
            if isinstance(value, bool):
                params.append((name, "true" if value else "false"))
            else:
                params += [(name, str(v)) for v in value]
        return params

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        spec = ENDPOINTS[stream.name]
        if spec.level:
            width = WIDTHS["1d"]
            end = window.end - window.end % width + width
            window = Window(end - 2 * width, end)
        buckets = [b async for b in self._pages(spec, window)]
        parsed = BucketParser(spec)
        flows = [flow for bucket in buckets for flow in parsed.bucket(bucket)]
        if parsed.non_usd:
            log.warning(
                "costs in a currency other than USD were skipped",
                extra={"target": self._config.name, "currencies": ",".join(sorted(parsed.non_usd))},
            )
        if spec.name == "costs" and self._config.monthly_budget_usd is not None:
            budget = Level("openai_cost_budget_usd", (), float(self._config.monthly_budget_usd))
            return StreamRead(
                stream.name,
                window.start,
                window.end,
                flows=flows,
                levels=[budget],
                unknown_fields=len(parsed.unknown),
            )
        if spec.level:
            return StreamRead(
                stream.name,
                window.start,
                window.end,
                levels=_newest_levels(flows),
                unknown_fields=len(parsed.unknown),
            )
        return StreamRead(
            stream.name, window.start, window.end, flows=flows, unknown_fields=len(parsed.unknown)
        )

    async def _pages(self, spec: Endpoint, window: Window) -> Any:
        params = self._params(spec, window)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            try:
                page = await self._upstream.get_json(spec.name, spec.path, params)
            except UpstreamError as err:
                raise self._explained(spec, err) from None
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise UpstreamError(spec.name, "answer is not a page object with a data list")
            for bucket in page["data"]:
                yield bucket
            cursor = page.get("next_page")
            if not page.get("has_more") or not cursor:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise UpstreamError(spec.name, "pagination cursor repeated or malformed")
            seen.add(cursor)
            params = [p for p in params if p[0] != "page"] + [("page", cursor)]
        raise UpstreamError(spec.name, f"more than {MAX_PAGES} pages: giving up on this read")

    def _explained(self, spec: Endpoint, err: UpstreamError) -> UpstreamError:
        """A 400 for costs grouped by user_id says which setting to change."""
        if err.status != 400 or spec.name != "costs" or "user_id" not in self.group_by("costs"):
            return err
        return UpstreamError(
            spec.name,
            f"{err.message} (costs grouped by user_id: the API refuses it with project_id "
            "grouping or the project_ids filter for some organizations and time ranges; remove "
            "user_id, or project_id and project_ids, from overrides.costs.group_by / the "
            "source's filters)",
            status=err.status,
        )


def _newest_levels(flows: Sequence[Flow]) -> list[Level]:
    """A level per series from its newest bucket."""
    newest: dict[tuple[str, tuple[str, ...]], Flow] = {}
    for flow in flows:
        key = (flow.family, flow.labels)
        if key not in newest or flow.start > newest[key].start:
            newest[key] = flow
    return [Level(f.family, f.labels, f.value) for f in newest.values()]
