"""The OpenAI twin's generated usage: the raw rows of each endpoint (every combination of its
dimensions) and their values as of any time, revisions included, summed per group as the API
would (`OpenAIUsage.grouped`). Values come from exporter/simulator/usage.py, so any bucket width
agrees with any other and the ground truth can answer for any group.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from exporter.simulator.twin import GeneratedUsage
from exporter.simulator.usage import HOUR, MINUTE, Key, digest, rate, visible
from exporter.vendors.openai.twin.catalogue import (
    API_SOURCES,
    ENDPOINTS,
    LINE_ITEMS,
    EndpointSpec,
    FieldSpec,
    field_of,
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


ROWS = {name: rows(spec) for name, spec in ENDPOINTS.items()}


class OpenAIUsage(GeneratedUsage):
    """The usage of every organization, as of any time."""

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
                self.value(org, spec, row, field_of(spec, part), start, end, now)
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
            for r in ROWS[spec.name]
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
        for row in ROWS[spec.name]:
            if not passes(row, spec, filters):
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


def passes(row: Row, spec: EndpointSpec, filters: Mapping[str, set[str]]) -> bool:
    """Whether a raw row is in every filter's values (a boolean as the query spells it)."""
    for name, allowed in filters.items():
        dim = spec.filters[name]
        value = row.dims.get(dim)
        shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if shown not in allowed:
            return False
    return True
