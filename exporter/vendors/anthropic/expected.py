"""The counters an Anthropic target must show, from the twin's ground truth (dev-only).

Written out here on its own, not imported from the sources: which result field feeds which
family, which grouping adds which label, and what a null becomes. A mistake in a source's table
shows up as a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, key, origin
from exporter.vendors.anthropic.config import AnthropicConfig

# result field -> family (both APIs)
TOKENS = {
    "uncached_input_tokens": "anthropic_input_uncached_tokens_total",
    "cache_read_input_tokens": "anthropic_input_cache_read_tokens_total",
    "cache_creation.ephemeral_5m_input_tokens": "anthropic_input_cache_write_5m_tokens_total",
    "cache_creation.ephemeral_1h_input_tokens": "anthropic_input_cache_write_1h_tokens_total",
    "output_tokens": "anthropic_output_tokens_total",
    "server_tool_use.web_search_requests": "anthropic_web_search_requests_total",
}
REQUESTS = "anthropic_requests_total"
COST = "anthropic_cost_usd_total"
LIST_COST = "anthropic_list_cost_usd_total"
# the legacy cost report's `description` grouping adds these labels
DESCRIBED = ("cost_type", "token_type", "model", "service_tier", "context_window")
NULLS = {"workspace_id": "default", "api_key_id": "console"}


def _label(dimension: str, value: object, analytics: bool) -> str:
    if analytics and dimension == "inference_geo" and value == "not_available":
        value = None  # the Analytics API knows global and us only
    if value is None:
        return NULLS.get(dimension, "none")
    return str(value)


def _usd(cents: Decimal) -> float:
    return float(cents / 100)


def expected(
    sim_url: str, config: AnthropicConfig, who: Any, got: Mapping[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    """`who`: the key's organization in the twin. Each stream from its own origin."""
    analytics = config.api == "analytics"
    out: dict[SeriesKey, float] = {}
    usage_families = {*TOKENS.values(), REQUESTS}
    if "messages" in config.endpoints:
        start = origin(got, lambda k: k[0] in usage_families)
        query: list[tuple[str, Any]] = [("org", who), ("endpoint", "messages"), ("start", start)]
        rows = get(
            sim_url, "/_sim/anthropic/truth", query + [("group_by", g) for g in config.group_by]
        )
        for row in rows["rows"]:
            labels = {d: _label(d, row["group"][d], analytics) for d in config.group_by}
            fields = dict(TOKENS)
            if analytics:
                fields["requests"] = REQUESTS
            for field, family in fields.items():
                value = row["values"][field]
                if value:
                    series = key(family, labels)
                    out[series] = out.get(series, 0) + value
    if "costs" in config.endpoints:
        start = origin(got, lambda k: k[0] in (COST, LIST_COST))
        dimensions = list(config.cost_dimensions)
        query = [
            ("org", who),
            ("endpoint", "costs"),
            ("api", config.api),
            ("start", start),
        ] + [("group_by", g) for g in dimensions]
        rows = get(sim_url, "/_sim/anthropic/truth", query)
        if not analytics and "description" in dimensions:
            dimensions = [d for d in dimensions if d != "description"] + list(DESCRIBED)
        sums: dict[SeriesKey, Decimal] = {}
        for row in rows["rows"]:
            labels = {d: _label(d, row["group"][d], analytics) for d in dimensions}
            amounts = {COST: row["amount"]}
            if analytics:
                amounts[LIST_COST] = row["list_amount"]
            for family, amount in amounts.items():
                series = key(family, labels)
                sums[series] = sums.get(series, Decimal(0)) + Decimal(amount)
        out.update({series: _usd(cents) for series, cents in sums.items()})
    return out
