"""Warnings for a valid config that is likely a mistake: printed by `check-config`, logged by
`run` at start and on each reload, all from `all_warnings`. Vendor facts come from the plug-ins
(exporter/vendors); a plug-in's own warnings (`Plugin.warnings`) are among them.
"""

from __future__ import annotations

from exporter.config.load import Config, source_label
from exporter.config.source import BaseSource
from exporter.plugin import base_url
from exporter.vendors import plugin


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def source_warnings(index: int, source: BaseSource) -> list[str]:
    """The warnings for `sources[index]`, each naming the field."""
    where = source_label(index, source.name)
    vendor = plugin(source.kind)
    out: list[str] = []
    _, note = base_url(vendor, source)
    if note:
        out.append(f"{where}.base_url: {note}")
    if vendor.lateness:
        for field, value in source.lookbacks():
            if value is not None and value < vendor.lateness:
                out.append(
                    f"{where}.{field}: {_span(value)} is shorter than the {_span(vendor.lateness)}"
                    f" in which the vendor still revises buckets ({vendor.lateness_source}):"
                    " revisions after that are never counted"
                )
    for field, keys in source.groupings():
        wide = [k for k in keys if k in vendor.wide_keys]
        if wide:
            out.append(
                f"{where}.{field}: {', '.join(wide)} {'make' if len(wide) > 1 else 'makes'}"
                " one series per user or API key: on a"
                f" large organization that is many series (max_series_per_family"
                f" {source.max_series_per_family} folds the rest into __overflow__)"
            )
    tls = source.tls_config
    if tls is not None and tls.insecure_skip_verify:
        out.append(
            f"{where}.tls_config.insecure_skip_verify: TLS CERTIFICATES ARE NOT VERIFIED: anyone"
            " on the path can read the API key; use ca_file instead"
        )
    return out


def generic_warnings(config: Config) -> list[str]:
    """The warnings every kind shares, in source order."""
    return [w for i, s in enumerate(config.sources) for w in source_warnings(i, s)]


def vendor_warnings(config: Config) -> list[str]:
    """Valid settings the upstream may still refuse, from each plug-in (`Plugin.warnings`)."""
    return [
        f"{source_label(index, source.name)}.{warning}"
        for index, source in enumerate(config.sources)
        for warning in plugin(source.kind).warnings(source)
    ]


def all_warnings(config: Config) -> list[str]:
    """Every warning of the config: what check-config prints, and what a start and a reload
    log (the same list, so a reload does not hide a warning a start shows)."""
    return generic_warnings(config) + vendor_warnings(config)
