"""What a twin's expected values are compared with: the exporter's counters of one target, and
small helpers to read a twin's `/_sim/<kind>/truth` over loopback. Dev-only (tests, bench).

A vendor's `truth.py` (exporter/vendors/<kind>/truth.py) turns its twin's ground truth into the
counter samples the exporter must show (`Twin.expected`); the comparison is exact.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LabelSet = frozenset[tuple[str, str]]  # (name, value) pairs; not `model.Labels` (values)
SeriesKey = tuple[str, LabelSet]  # (sample name, labels without `target`, empty values dropped)


@dataclass(frozen=True, slots=True)
class Series:
    value: float
    created: float | None  # the series' origin (`_created`)


def counters(openmetrics: str, target: str) -> dict[SeriesKey, Series]:
    """The `_total` samples of `target` in an OpenMetrics exposition, with their `_created`."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    values: dict[SeriesKey, float] = {}
    created: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(openmetrics):
        for sample in family.samples:
            if sample.labels.get("target") != target:
                continue
            labels = frozenset((k, v) for k, v in sample.labels.items() if k != "target" and v)
            if sample.name.endswith("_created"):
                created[(family.name + "_total", labels)] = sample.value
            elif sample.name.endswith("_total"):
                values[(sample.name, labels)] = sample.value
    return {key: Series(value, created.get(key)) for key, value in values.items()}


def origin(series: Mapping[SeriesKey, Series], belongs: Callable[[SeriesKey], bool]) -> int:
    """The origin of a stream: the `_created` its series share (else the target's earliest)."""
    origins = {s.created for key, s in series.items() if belongs(key) and s.created is not None}
    if len(origins) > 1:
        raise AssertionError(f"one stream, several origins: {sorted(origins)}")
    if origins:
        return int(origins.pop())
    return int(min((s.created for s in series.values() if s.created is not None), default=0))


def label(value: object) -> str:
    """A truth value as the exporter writes it in a label."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key(family: str, labels: Mapping[str, str]) -> SeriesKey:
    return family, frozenset((k, v) for k, v in labels.items() if v)


def get(sim_url: str, path: str, query: Sequence[tuple[str, Any]]) -> Any:
    """GET a twin's control or truth endpoint (loopback only, plain or TLS: the TLS tests serve
    the simulator over https) and decode the JSON answer."""
    url = f"{sim_url}{path}?{urllib.parse.urlencode([(k, str(v)) for k, v in query])}"
    hosts = ("127.0.0.1:", "localhost:", "[::1]:")
    if not url.startswith(
        tuple(f"{scheme}://{host}" for scheme in ("http", "https") for host in hosts)
    ):
        raise ValueError("the simulator is read over loopback only")
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (loopback, checked)
        return json.loads(answer.read())
