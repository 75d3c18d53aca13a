"""The counters an Anylayer target must show, from the twin's ground truth (dev-only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, key, origin
from exporter.vendors.anylayer.config import AnylayerConfig

FIELDS = {  # truth value -> family, written here on its own (not from the source's table)
    "requests": "anylayer_requests_total",
    "failedRequests": "anylayer_failed_requests_total",
    "dataTransferred": "anylayer_transferred_bytes_total",
}


def _belongs_to(key_id: str) -> Callable[[SeriesKey], bool]:
    return lambda series: not key_id or ("key_id", key_id) in series[1]


def expected(
    sim_url: str, config: AnylayerConfig, who: Any, got: Mapping[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    """`who`: the key's account in the twin."""
    out: dict[SeriesKey, float] = {}
    for key_id in config.key_ids or [""]:  # no key_ids: the account's whole usage, unlabelled
        start = origin(got, _belongs_to(key_id))
        query = [("account", who), ("start", start)] + ([("key", key_id)] if key_id else [])
        values = get(sim_url, "/_sim/anylayer/truth", query)["values"]
        for name, family in FIELDS.items():
            out[key(family, {"key_id": key_id})] = values[name]
    return out
