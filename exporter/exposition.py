"""Renders the ledger's samples and the self-metrics to exposition bytes, once per change.

Four variants are kept ready (text 0.0.4 and OpenMetrics, each plain and gzip) so a scrape is a
memory copy whatever the number of series. Label values are untrusted upstream text: the ledger
bounds them before a series is keyed (`model.bound_label`) and they are escaped here, and
nowhere else. `_created` goes into OpenMetrics only; in the text format it would double the
series count.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from exporter.model import Family, FamilySamples, Kind, bound_label

CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

disable_created_metrics()  # self-metrics: no `_created` series in the text format either


@dataclass(frozen=True, slots=True)
class Exposition:
    """The rendered bytes, every variant ready. (Keeping plain OpenMetrics only as gzip saved
    21 MB at 100k series, but each plain request then allocated its own 21 MB copy: 16
    concurrent ones cost more than was saved; see bench/RESULTS.md.)"""

    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes
    series: int


def escape_label(value: str) -> str:
    """A label value made safe: bounded, valid UTF-8, with `\\`, `"` and newline escaped."""
    value = bound_label(value)
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _value(value: float) -> str:
    """floatToGoString's text, with the common case (no exponent, finite) taken first."""
    if -1e6 < value < 1e6:
        return repr(value)
    return str(floatToGoString(value))


# Creation times repeat: every series that began in one poll shares its origin.
_created = functools.lru_cache(maxsize=4096)(_value)


class _Escaped(dict[str, str]):
    """Escaped label values of one render: most values (projects, models) repeat."""

    def __missing__(self, value: str) -> str:
        escaped = self[value] = escape_label(value)
        return escaped


def render(families: Iterable[FamilySamples], registry: CollectorRegistry) -> Exposition:
    grouped: dict[str, tuple[Family, list[FamilySamples]]] = {}
    for item in families:
        entry = grouped.setdefault(item.family.name, (item.family, []))
        entry[1].append(item)
    text: list[str] = []
    om: list[str] = []
    escaped = _Escaped()
    count = 0
    for family, items in grouped.values():
        help_text = _escape_help(family.help)
        base = family.base_name
        kind = family.kind.value
        text.append(f"# HELP {family.name} {help_text}\n# TYPE {family.name} {kind}\n")
        om.append(f"# HELP {base} {help_text}\n# TYPE {base} {kind}\n")
        if family.unit and base.endswith(f"_{family.unit}"):
            om.append(f"# UNIT {base} {family.unit}\n")
        counter = family.kind is Kind.COUNTER
        names = [f',{name}="' for name in family.labels]
        for item in items:
            opening = '{target="' + escaped[item.target] + '"'
            for sample in item.samples:
                labels = (
                    opening
                    + "".join(
                        n + escaped[v] + '"' for n, v in zip(names, sample.labels, strict=True)
                    )
                    + "}"
                )
                value = _value(sample.value)
                line = f"{family.name}{labels} {value}\n"
                text.append(line)
                if counter:
                    om.append(f"{base}_total{labels} {value}\n")
                    if sample.created is not None:
                        om.append(f"{base}_created{labels} {_created(sample.created)}\n")
                else:
                    om.append(line)
                count += 1
    text_bytes = "".join(text).encode("utf-8") + generate_latest(registry)
    self_om = generate_openmetrics(registry)
    self_om = self_om.removesuffix(b"# EOF\n")
    om_bytes = "".join(om).encode("utf-8") + self_om + b"# EOF\n"
    return Exposition(
        text=text_bytes,
        text_gzip=gzip.compress(text_bytes, compresslevel=6, mtime=0),
        openmetrics=om_bytes,
        openmetrics_gzip=gzip.compress(om_bytes, compresslevel=6, mtime=0),
        series=count,
    )


def negotiate(accept: str | None, accept_encoding: str | None) -> tuple[bool, bool]:
    """(OpenMetrics?, gzip?) for a request's Accept and Accept-Encoding headers."""
    openmetrics = False
    for part in (accept or "").split(","):
        media, *params = [p.strip() for p in part.split(";")]
        if media == "application/openmetrics-text":
            q = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                openmetrics = float(q) > 0
            except ValueError:
                openmetrics = False
            if openmetrics:
                break
    use_gzip = False
    for part in (accept_encoding or "").split(","):
        coding, *params = [p.strip() for p in part.split(";")]
        if coding.lower() == "gzip":
            use_gzip = not any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params)
    return openmetrics, use_gzip
