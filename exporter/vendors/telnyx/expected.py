"""The counters a Telnyx target must show, from the twin's ground truth (dev-only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, key, origin
from exporter.vendors.telnyx import twin
from exporter.vendors.telnyx.config import TelnyxConfig

FIELDS = {  # truth value -> family, written here on its own (not from the source's table)
    "ops": "telnyx_storage_operations_total",
    "successful_ops": "telnyx_storage_successful_operations_total",
    "bytes_sent": "telnyx_storage_sent_bytes_total",
    "bytes_received": "telnyx_storage_received_bytes_total",
}


def _belongs_to(bucket: str) -> Callable[[SeriesKey], bool]:
    return lambda series: ("bucket", bucket) in series[1]


def expected(
    sim_url: str, config: TelnyxConfig, who: Any, got: Mapping[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    """`who`: the key's account in the twin."""
    buckets = twin.BUCKETS if config.buckets == "auto" else config.buckets
    out: dict[SeriesKey, float] = {}
    for bucket in buckets:
        start = origin(got, _belongs_to(bucket))
        query = [("account", who), ("bucket", bucket), ("start", start)]
        for row in get(sim_url, "/_sim/telnyx/truth", query)["rows"]:
            for name, family in FIELDS.items():
                labels = {"bucket": bucket, "category": row["category"]}
                out[key(family, labels)] = row["values"][name]
    return out
