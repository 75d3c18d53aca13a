"""The Anthropic plug-in's usage and cost metric families (both APIs), their label tuples, and
the fixed label values null dimensions map to.

A family is declared once, here; the sources (legacy `source.py`, `analytics_source.py`) and the
expected values (`truth.py`) use these names and tuples. The names families (workspaces, API
keys, users) are declared with their resource source (`resources.py`).

A dimension the source is not grouped by is the empty label value (as with the other vendors).
A grouped dimension the API answers with null maps to one fixed, documented, non-empty value, so
a series never flips between two names for the same thing.
"""

from __future__ import annotations

from exporter.model import Family, Kind, Period

# A label not grouped by is "", a grouped one that is null is one of these (docs/metrics.md).
NULL_WORKSPACE = "default"  # workspace_id null: the organization's default workspace
NULL_API_KEY = "console"  # api_key_id null: Console/Playground usage (Analytics: keyless usage)
NULL_OTHER = "none"  # every other grouped dimension that is null
NULL_LABEL: dict[str, str] = {"workspace_id": NULL_WORKSPACE, "api_key_id": NULL_API_KEY}


def null_label(dimension: str) -> str:
    """The label value of a grouped dimension the API answered with null."""
    return NULL_LABEL.get(dimension, NULL_OTHER)


USAGE_LABELS = (
    "workspace_id",
    "api_key_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
    "product",  # Analytics API only; empty on the legacy API
)
COST_LABELS = (
    "workspace_id",
    "cost_type",
    "token_type",
    "model",
    "service_tier",
    "context_window",
    "api_key_id",  # Analytics API's cost grouping only
)
REFRESH_LABELS = ("endpoint",)

# The token and tool counts both APIs report, by result field (dotted: nested objects).
USAGE_FIELDS: dict[str, str] = {
    "uncached_input_tokens": "anthropic_input_uncached_tokens_total",
    "cache_read_input_tokens": "anthropic_input_cache_read_tokens_total",
    "cache_creation.ephemeral_5m_input_tokens": "anthropic_input_cache_write_5m_tokens_total",
    "cache_creation.ephemeral_1h_input_tokens": "anthropic_input_cache_write_1h_tokens_total",
    "output_tokens": "anthropic_output_tokens_total",
    "server_tool_use.web_search_requests": "anthropic_web_search_requests_total",
}

_BOTH = "From the legacy Usage API or the Analytics API (`api`), per bucket as last reported."

FAMILIES: tuple[Family, ...] = (
    Family(
        "anthropic_input_uncached_tokens_total",
        Kind.COUNTER,
        "Input tokens neither read from nor written to the prompt cache "
        f"(uncached_input_tokens). {_BOTH}",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_input_cache_read_tokens_total",
        Kind.COUNTER,
        f"Input tokens read from the prompt cache (cache_read_input_tokens). {_BOTH}",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_input_cache_write_5m_tokens_total",
        Kind.COUNTER,
        "Input tokens written to the prompt cache with a 5-minute lifetime "
        f"(cache_creation.ephemeral_5m_input_tokens). {_BOTH}",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_input_cache_write_1h_tokens_total",
        Kind.COUNTER,
        "Input tokens written to the prompt cache with a 1-hour lifetime "
        f"(cache_creation.ephemeral_1h_input_tokens). {_BOTH}",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_output_tokens_total",
        Kind.COUNTER,
        f"Output tokens (output_tokens). {_BOTH}",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_web_search_requests_total",
        Kind.COUNTER,
        f"Web search tool requests (server_tool_use.web_search_requests). {_BOTH}",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_requests_total",
        Kind.COUNTER,
        "API requests (usage.requests). Analytics API only: the legacy Usage API has no "
        "request count.",
        USAGE_LABELS,
    ),
    Family(
        "anthropic_cost_usd_total",
        Kind.COUNTER,
        "Cost in US dollars: the API's `amount` in cents divided by 100, summed exactly (legacy "
        "Cost API: daily buckets; Analytics API: the net, post-discount amount). Legacy cost "
        "omits Priority Tier; code execution is only here, never in usage.",
        COST_LABELS,
        unit="usd",
        history=True,
    ),
    Family(
        "anthropic_list_cost_usd_total",
        Kind.COUNTER,
        "Cost at list price in US dollars, before discounts (`list_amount` in cents / 100). "
        "Analytics API only.",
        COST_LABELS,
        unit="usd",
        history=True,
    ),
    Family(
        "anthropic_cost_today_usd",
        Kind.GAUGE,
        "Cost in US dollars so far in the current UTC day (derived from the cost buckets).",
        COST_LABELS,
        unit="usd",
        sums="anthropic_cost_usd_total",
        period=Period.DAY,
    ),
    Family(
        "anthropic_cost_month_to_date_usd",
        Kind.GAUGE,
        "Cost in US dollars so far in the current UTC calendar month (derived from the cost "
        "buckets; counting starts at the month's first day on a first start).",
        COST_LABELS,
        unit="usd",
        sums="anthropic_cost_usd_total",
        period=Period.MONTH,
    ),
    Family(
        "anthropic_cost_budget_usd",
        Kind.GAUGE,
        "The monthly budget in US dollars configured for this organization "
        "(`monthly_budget_usd`), for alerts on month-to-date and projected spend.",
        (),
        unit="usd",
    ),
    Family(
        "anthropic_data_refreshed_timestamp_seconds",
        Kind.GAUGE,
        "When the Analytics API last refreshed its data (`data_refreshed_at`, unix seconds), by "
        "`endpoint` (usage, cost). Analytics API only.",
        REFRESH_LABELS,
        unit="seconds",
    ),
)
