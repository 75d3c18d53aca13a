"""The exposition renderer as it was before chunked rendering (issue 17), kept as the reference
the chunked `exporter.exposition.Renderer` must match byte for byte. Straightforward on purpose:
every series rendered on every call, one gzip stream per variant."""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from exporter.exposition.served import Exposition
from exporter.model import Family, FamilySamples, Kind, bound_label


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
        text_gzip=gzip.compress(text_bytes, compresslevel=6, mtime=0),
        openmetrics_gzip=gzip.compress(om_bytes, compresslevel=6, mtime=0),
        text_size=len(text_bytes),
        openmetrics_size=len(om_bytes),
        series=count,
    )
