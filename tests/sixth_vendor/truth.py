"""The counters a tally target must show, from its twin's ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, origin
from tests.sixth_vendor.config import TallyConfig


def expected(
    sim_url: str, config: TallyConfig, who: Any, got: Mapping[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    start = origin(got, lambda k: True)
    answer = get(sim_url, "/_sim/tally/truth", [("account", who), ("start", start)])
    return {("tally_calls_total", frozenset()): float(answer["calls"])}
