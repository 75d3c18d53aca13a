"""The counters an Arthur target must show, from the twin's ground truth (dev-only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.simulator.compare import Series, SeriesKey, get, key, label, origin
from exporter.vendors.arthur.config import ArthurConfig

FIELDS = {  # truth value -> family, written here on its own (not from the source's table)
    "inference": "arthur_inference_tokens_total",
    "eval_prompt": "arthur_eval_prompt_tokens_total",
    "eval_completion": "arthur_eval_completion_tokens_total",
}
SCOPE_LABELS = {"rule_type": "rule_type", "task": "task_id"}


def expected(
    sim_url: str, config: ArthurConfig, who: Any, got: Mapping[SeriesKey, Series]
) -> dict[SeriesKey, float]:
    """`who`: the key's (engine, role) in the twin."""
    start = origin(got, lambda k: True)
    query = [("engine", who[0]), ("start", start)] + [("group_by", s) for s in config.group_by]
    out: dict[SeriesKey, float] = {}
    for row in get(sim_url, "/_sim/arthur/truth", query)["rows"]:
        labels = {
            SCOPE_LABELS[scope]: label(row["group"].get(SCOPE_LABELS[scope]))
            for scope in config.group_by
        }
        for name, family in FIELDS.items():
            out[key(family, labels)] = row["values"][name]
    return out
