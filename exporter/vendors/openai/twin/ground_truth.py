"""The OpenAI twin's ground truth, served at `/_sim/openai/truth`: per group, what the API's
buckets sum to from a start to now (the vector stores' level: the newest day), in the shape the
expected values (exporter/vendors/openai/expected.py) read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exporter.simulator.usage import HOUR
from exporter.vendors.openai.twin.catalogue import ENDPOINTS, LINE_ITEMS, WIDTHS
from exporter.vendors.openai.twin.usage import OpenAIUsage


def ground_truth(
    usage: OpenAIUsage,
    org: str,
    endpoint: str,
    start: int,
    now: int,
    group_by: Sequence[str],
    filters: Mapping[str, set[str]],
) -> list[dict[str, Any]]:
    spec = ENDPOINTS[endpoint]
    if spec.level:
        day = now - now % WIDTHS["1d"]
        groups = usage.grouped(org, spec, day, day + WIDTHS["1d"], now, group_by, filters)
    else:
        groups = usage.grouped(org, spec, start, now + HOUR, now, group_by, filters)
    rows_out = []
    for key, sums in groups.items():
        values: dict[str, Any] = dict(sums)
        row: dict[str, Any] = {"group": dict(zip(group_by, key, strict=True)), "values": values}
        if endpoint == "costs":
            values = {"amount": sums["micro_usd"] / 1e6, "micro_usd": sums["micro_usd"]}
            item = row["group"].get("line_item")
            if item is not None:  # quantities are reported per line item only
                values["quantity"] = sums["quantity"]
                row["quantity_unit"] = LINE_ITEMS[str(item)][0]
            row["values"] = values
        rows_out.append(row)
    return rows_out
