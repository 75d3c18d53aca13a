"""The rows the Analytics API twin answers a query with, from the organization's ground truth
(`usage_twin.py`, shared with the legacy routes, so both APIs agree), in the query's order.

Flat rows `{starting_at, ending_at, group, usage | cost}`, only rows with usage or cost; `group`
carries every dimension key, null unless grouped. A cost query grouped by `cost_type` /
`token_type` fans out: the rows of one bucket and counted group make a unit, which counts once
toward `limit`. `amount` and `list_amount` are decimal strings of cents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from exporter.vendors.anthropic.analytics_query_twin import FAN_OUT, GROUP_KEYS
from exporter.vendors.anthropic.api_twin import cents, rfc3339
from exporter.vendors.anthropic.prices_twin import COST_DIMENSIONS
from exporter.vendors.anthropic.twin import DIMENSIONS, REQUESTS, TOKEN_FIELDS
from exporter.vendors.anthropic.usage_twin import AnthropicUsage

Unit = list[dict[str, Any]]  # the rows of one bucket and counted group

# the dimensions the truth keeps; the others are valid but null on every row of this org
USAGE_TRUTH = frozenset(DIMENSIONS) & frozenset(GROUP_KEYS)
COST_TRUTH = frozenset(COST_DIMENSIONS) - {"description"}


def analytics_value(dimension: str, value: str | None) -> str | None:
    """A row's dimension as the Analytics API shows it: its inference geos are `global` and
    `us` only (the legacy `not_available` is null there)."""
    if dimension == "inference_geo" and value == "not_available":
        return None
    return value


def _buckets(query: Mapping[str, Any], now: int) -> list[tuple[int, int]]:
    """The time buckets of the range with data by `now` (one for the whole range unbucketed,
    its bounds rounded down to the hour)."""
    width, start, end = query["width"], query["start"], query["end"]
    if width == 0:
        return [(start - start % 3600, end - end % 3600)]
    out = []
    b = start - start % width
    while b < end and b <= now:
        out.append((b, b + width))
        b += width
    return out


def _group(keys: Sequence[str], values: Sequence[str | None], costs: bool) -> dict[str, Any]:
    group: dict[str, Any] = dict.fromkeys((*GROUP_KEYS, *FAN_OUT) if costs else GROUP_KEYS)
    for key, value in zip(keys, values, strict=True):
        group[key] = analytics_value(key, value)
    return group


def usage_rows(usage: AnthropicUsage, org: str, query: Mapping[str, Any], now: int) -> list[Unit]:
    """Every row of the query, each a unit of one (usage rows do not fan out)."""
    keys = [k for k in query["group_by"] if k in USAGE_TRUTH]
    units = []
    for b, e in _buckets(query, now):
        merged: dict[tuple[str | None, ...], dict[str, int]] = {}
        for raw, sums in usage.usage(org, b, e, now, keys).items():
            key = tuple(analytics_value(k, v) for k, v in zip(keys, raw, strict=True))
            into = merged.setdefault(key, dict.fromkeys(sums, 0))
            for name, value in sums.items():
                into[name] += value
        for key, sums in merged.items():
            tokens = sum(sums[f] for f in TOKEN_FIELDS)
            units.append(
                [
                    {
                        "starting_at": rfc3339(b),
                        "ending_at": rfc3339(e),
                        "group": _group(keys, key, costs=False),
                        "usage": {
                            "uncached_input_tokens": sums["uncached_input_tokens"],
                            "cache_creation": {
                                "ephemeral_1h_input_tokens": sums[
                                    "cache_creation.ephemeral_1h_input_tokens"
                                ],
                                "ephemeral_5m_input_tokens": sums[
                                    "cache_creation.ephemeral_5m_input_tokens"
                                ],
                            },
                            "cache_read_input_tokens": sums["cache_read_input_tokens"],
                            "output_tokens": sums["output_tokens"],
                            "server_tool_use": {
                                "web_search_requests": sums["server_tool_use.web_search_requests"]
                            },
                            "total_tokens": tokens,
                            "requests": sums[REQUESTS],
                        },
                    }
                ]
            )
    return units


def cost_rows(usage: AnthropicUsage, org: str, query: Mapping[str, Any], now: int) -> list[Unit]:
    """Every row of the query, grouped in units: one per bucket and counted group, holding its
    cost_type / token_type fan-out rows (a unit counts once toward `limit`)."""
    grouped = query["group_by"]
    fan = [k for k in FAN_OUT if k in grouped]
    if "token_type" in fan:
        fan = ["cost_type", "token_type"]  # token rows say cost_type "tokens"
    counted = [k for k in grouped if k not in FAN_OUT and k in COST_TRUTH]
    keys = counted + fan
    units = []
    for b, e in _buckets(query, now):
        found = usage.cost(org, b, e, now, keys, legacy=False)
        bundles: dict[tuple[str | None, ...], list[tuple[tuple[str | None, ...], Any]]] = {}
        for key, sums in found.items():
            values = dict(zip(keys, key, strict=True))
            tokens_only = "token_type" in grouped and "cost_type" not in grouped
            if tokens_only and values["cost_type"] != "tokens":
                continue  # grouped by token_type alone: the token rows only
            bundles.setdefault(key[: len(counted)], []).append((key, sums))
        for _, members in bundles.items():
            unit = []
            for key, sums in sorted(members, key=lambda m: -m[1].amount):
                values = dict(zip(keys, key, strict=True))
                group = _group(counted, key[: len(counted)], costs=True)
                for name in fan:
                    group[name] = values[name]
                unit.append(
                    {
                        "starting_at": rfc3339(b),
                        "ending_at": rfc3339(e),
                        "group": group,
                        "cost": {
                            "amount": cents(sums.amount),
                            "list_amount": cents(sums.list_amount),
                            "currency": "USD",
                            "requests": None if fan else sums.requests,
                        },
                    }
                )
            units.append(unit)
    return units


def _metric(unit: Unit, order_by: str) -> Decimal:
    if order_by in ("amount", "list_amount"):
        return sum((Decimal(r["cost"][order_by]) for r in unit), Decimal(0))
    if order_by == "time":  # within a bucket, by total_tokens / amount, highest first
        return _metric(unit, "amount" if "cost" in unit[0] else "total_tokens")
    return Decimal(unit[0]["usage"][order_by] or 0)


def _tie(unit: Unit) -> str:
    return json.dumps(unit[0]["group"], sort_keys=True)


def ordered(units: list[Unit], order: str, order_by: str) -> list[Any]:
    """Rows in the query's order (stable sorts; ties broken by time, then group, so pages
    never overlap). `time`: by bucket in `order`, within a bucket by the default metric,
    highest first."""
    desc = order == "desc"
    if order_by == "time":
        within = sorted(units, key=lambda u: (-_metric(u, "time"), _tie(u)))
        return sorted(within, key=lambda u: str(u[0]["starting_at"]), reverse=desc)
    base = sorted(units, key=lambda u: (str(u[0]["starting_at"]), _tie(u)))
    return sorted(base, key=lambda u: _metric(u, order_by), reverse=desc)
