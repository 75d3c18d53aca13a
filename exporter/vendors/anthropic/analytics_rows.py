"""The Analytics API's rows as flows: a row's bucket, its labels and its values, summed exactly.

A row is `{starting_at, ending_at, group{...}, usage{...} | cost{...}}`. Counts are whole
numbers; `amount` and `list_amount` are decimal strings of cents, parsed with `Decimal`, summed
per series and bucket and turned into a float of dollars once per flow. A key the API adds (to a
row, its group, usage or cost) is counted as unknown, never a failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from exporter.model import Flow
from exporter.upstream import UpstreamError
from exporter.upstream.values import quantity, timestamp
from exporter.vendors.anthropic.config import (
    ANALYTICS_FREE_DIMENSIONS,
    ANALYTICS_GROUP_BY,
    ANALYTICS_REFUSED,
)
from exporter.vendors.anthropic.families import COST_LABELS, USAGE_FIELDS, USAGE_LABELS, null_label

ENDPOINT = {"messages": "usage", "costs": "cost"}  # the `endpoint` label of the refresh gauge
REQUESTS = "anthropic_requests_total"
COST = "anthropic_cost_usd_total"
LIST_COST = "anthropic_list_cost_usd_total"

_ROW_KEYS = {"messages": frozenset({"starting_at", "ending_at", "group", "usage"})}
_ROW_KEYS["costs"] = frozenset({"starting_at", "ending_at", "group", "cost"})
# Every dimension a group carries (BetaAnalyticsUsageGroup / BetaAnalyticsCostGroup, SDK 2.10.0):
# config.py names each one, as exported, refused (with the reason) or free (cost fan-out).
_GROUP_KEYS = frozenset((*ANALYTICS_GROUP_BY, *ANALYTICS_REFUSED, *ANALYTICS_FREE_DIMENSIONS))
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

    def row(self, raw: Any) -> Row:
        """The row's bucket `[start, end)` and its (family, labels, value) items."""
        row = self._known(raw, "a row", "row", _ROW_KEYS[self.endpoint])
        start = timestamp(row.get("starting_at"), self.name)
        end = timestamp(row.get("ending_at"), self.name)
        if end <= start:
            raise UpstreamError(self.name, "a row ends before it starts")
        group = self._known(row.get("group"), "a row's group", "group", _GROUP_KEYS)
        if self.endpoint == "messages":
            items = self._usage(row.get("usage"), self._labels(group, USAGE_LABELS))
        else:
            items = self._cost(row.get("cost"), self._labels(group, COST_LABELS))
        return start, end, list(items)

    def _known(self, value: Any, what: str, path: str, keys: frozenset[str]) -> dict[str, Any]:
        """`value` as an object (anything else fails the read), its keys outside `keys` noted
        as unknown (`path.key`)."""
        if not isinstance(value, dict):
            raise UpstreamError(self.name, f"{what} is not an object")
        self.unknown.update(f"{path}.{k}" for k in value if k not in keys)
        return value

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

    def _usage(self, raw: Any, labels: tuple[str, ...]) -> Iterator[Item]:
        usage = self._known(raw, "a row's usage", "usage", _USAGE_KEYS)
        for key, known in _NESTED_KEYS.items():
            self._known(usage.get(key), f"usage.{key}", f"usage.{key}", known)
        counts = {}
        for dotted, family in USAGE_FIELDS.items():
            outer, _, inner = dotted.partition(".")
            value = usage[outer].get(inner) if inner else usage.get(outer)  # missing: refused
            counts[dotted] = self._count(value, dotted)
            yield family, labels, counts[dotted]
        total = usage.get("total_tokens")
        if total is not None and self._count(total, "total_tokens") != sum(
            counts[f] for f in _TOKEN_FIELDS
        ):
            self.inconsistencies += 1  # the parts do not add up to the total
        requests = usage.get("requests")
        if requests is not None:
            yield REQUESTS, labels, self._count(requests, "requests")

    def _cost(self, raw: Any, labels: tuple[str, ...]) -> Iterator[Item]:
        cost = self._known(raw, "a row's cost", "cost", _COST_KEYS)
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
