"""The Anthropic twin's ground truth: each organization's usage and cost as of any time, shared
by the legacy Admin API routes (`routes.py`), the Analytics API routes (`analytics_routes.py`)
and `/_sim/anthropic/truth`.

Each raw row's counts per minute (`twin.py`) come from `exporter/simulator/usage.py`
(deterministic, visible in two halves: at the minute's end and `late` seconds later) plus late
revisions up and down (`Revisions`), so buckets of any width agree and any group's sum is known
exactly. Cost is derived from the same counts (`prices_twin.py`).

The API the routes use (all times unix seconds, `[start, end)`, `now` the simulator's time):

- `AnthropicUsage(seed, usage_start, late)`, with `.revisions` and `.revise(org, up, now, rng)`.
- `.usage(org, start, end, now, group_by, filters)`: `{group tuple: {field: int}}` for the
  groups with any usage (fields `USAGE_FIELDS` + `requests`; dotted names are nested fields).
- `.cost(org, start, end, now, group_by, legacy=..., filters=...)`: `{group tuple: CostSums}`
  (amount and list amount in cents as exact `Decimal`, requests) for the groups with any cost;
  `group_by` over `COST_DIMENSIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import Random

from exporter.simulator.usage import HOUR, MINUTE, Key, Revisions, digest, rate, visible
from exporter.vendors.anthropic.prices_twin import COST_LINES, DISCOUNT, PRIORITY_TIERS
from exporter.vendors.anthropic.twin import (
    CODE_EXECUTION,
    MAXIMA,
    REQUESTS,
    ROWS,
    USAGE_FIELDS,
    Row,
)

GroupBy = Sequence[str]  # the dimensions a group is keyed by
# dimension -> the values a row or cost line may have (None: every row)
Filters = Mapping[str, set[str | None]] | None


@dataclass(slots=True)
class CostSums:
    """A cost group's sums, added up line by line: net and list amount in cents, and API
    requests (a row's requests count once per group)."""

    amount: Decimal = Decimal(0)
    list_amount: Decimal = Decimal(0)
    requests: int = 0


def _passes(dims: Mapping[str, str | None], filters: Filters) -> bool:
    return not filters or all(dims.get(d) in allowed for d, allowed in filters.items())


class AnthropicUsage:
    """The usage and cost of every organization, as of any time: the generated counts of the
    simulator's `seed` from `usage_start` (down to the hour), visible `late` seconds late."""

    def __init__(self, seed: int, usage_start: int, late: int) -> None:
        self.seed, self.late = seed, late
        self.usage_start = usage_start - usage_start % HOUR
        self.revisions = Revisions(late)

    def value(self, org: str, row: Row, field: str, start: int, end: int, now: int) -> int:
        """Row `row`'s count of `field` in [start, end) as reported at `now`."""
        start = max(start, self.usage_start)  # so every hour `visible` asks for has usage
        if end <= start:
            return 0
        generated = visible(lambda h: self._rate(org, row, field, h), start, end, now, self.late)
        return generated + self.revisions.shift((org, row.index, field), start, end, now)

    def _rate(self, org: str, row: Row, field: str, hour: int) -> int:
        if field == CODE_EXECUTION and not row.code_execution:
            return 0
        maximum = MAXIMA[field]
        # a few rows are busy, most are quiet: the data looks like real usage
        if digest(self.seed, "anthropic", org, row.index)[0] % 4 == 0:
            maximum = max(min(maximum, 2), maximum // 20)
        return rate(self.seed, "anthropic", org, row.index, field, hour, maximum=maximum)

    def usage(
        self, org: str, start: int, end: int, now: int, group_by: GroupBy, filters: Filters = None
    ) -> dict[tuple[str | None, ...], dict[str, int]]:
        """Usage per group (keyed by the values of `group_by`, None for null), groups with
        usage only. Fields: `USAGE_FIELDS` and `requests`."""
        groups: dict[tuple[str | None, ...], dict[str, int]] = {}
        for row in ROWS:
            if not _passes(row.dims, filters):
                continue
            key = tuple(row.dims[d] for d in group_by)
            sums = groups.setdefault(key, dict.fromkeys((*USAGE_FIELDS, REQUESTS), 0))
            for field in sums:
                sums[field] += self.value(org, row, field, start, end, now)
        return {k: v for k, v in groups.items() if any(v.values())}

    def cost(
        self,
        org: str,
        start: int,
        end: int,
        now: int,
        group_by: GroupBy,
        *,
        legacy: bool,
        filters: Filters = None,
    ) -> dict[tuple[str | None, ...], CostSums]:
        """Cost per group (keyed by the values of `group_by` over `COST_DIMENSIONS`), groups
        with cost only. `legacy`: the legacy cost report (no Priority Tier cost)."""
        groups: dict[tuple[str | None, ...], CostSums] = {}
        for row in ROWS:
            if legacy and row.service_tier in PRIORITY_TIERS:
                continue
            discount = DISCOUNT.get(row.workspace_id, Decimal(1))
            counted: set[tuple[str | None, ...]] = set()
            for line in COST_LINES[row.index]:
                if not _passes(line.dims, filters):
                    continue
                key = tuple(line.dims[d] for d in group_by)
                quantity = self.value(org, row, line.field, start, end, now)
                sums = groups.setdefault(key, CostSums())
                sums.amount += quantity * line.price * discount
                sums.list_amount += quantity * line.price
                if key not in counted:  # a row's requests count once per group
                    counted.add(key)
                    sums.requests += self.value(org, row, REQUESTS, start, end, now)
        return {k: v for k, v in groups.items() if v.list_amount != 0}

    def revise(self, org: str, up: bool, now: int, rng: Random) -> bool:
        """A late revision (up or down) of one closed, final minute of one row's field."""
        keys: list[Key] = [
            (org, row.index, field) for row in ROWS for field in (*USAGE_FIELDS, REQUESTS)
        ]
        rows = {row.index: row for row in ROWS}

        def minute_value(series: Key, minute: int) -> int:
            row = rows[int(str(series[1]))]
            return self.value(org, row, str(series[2]), minute, minute + MINUTE, now)

        return self.revisions.revise(up, keys, minute_value, now, rng)
