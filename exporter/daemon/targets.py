"""A target: one configured account, organization or engine, and the objects that read it.

How a target is built from its config entry, and what the ledger is told of it: where its
streams count from and the settings its series were counted with (a change hands the streams
over at the next bucket boundary, docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from exporter.config.source import BaseSource
from exporter.daemon.windows import fixed_origin
from exporter.ledger import Ledger
from exporter.model import Source, Stream
from exporter.plugin import base_url, upstream_settings
from exporter.selfmetrics import SelfMetrics
from exporter.upstream import Upstream, UpstreamError
from exporter.vendors import plugin

log = logging.getLogger("exporter.daemon")


@dataclass
class Target:
    """A configured account/organization/engine and the objects that read it."""

    name: str
    kind: str
    interval: float
    timeout: float
    source: Source
    upstream: Upstream
    streams: set[str] = field(default_factory=set)
    settings: str = ""  # the settings that decide its series (series_settings)
    hand_over: bool = False  # they differ from the ones the ledger counted with: first poll
    # resource streams (`Stream.every`): when each is next due (unix s), and the ones turned off
    resource_due: dict[str, float] = field(default_factory=dict)
    resources_off: set[str] = field(default_factory=set)
    resource_ok: dict[str, bool] = field(default_factory=dict)  # the last read of each


def series_settings(config: BaseSource) -> str:
    """The values of the source's `series_keys` as JSON: what its series and bucket layout
    depend on. Kept in the ledger per target, so a change is seen at a reload or a restart."""

    def plain(value: Any) -> Any:
        if hasattr(value, "model_dump"):
            return value.model_dump(mode="json", exclude_defaults=True)
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    keys = plugin(config.kind).series_keys
    return json.dumps({k: plain(getattr(config, k, None)) for k in keys}, sort_keys=True)


def build_target(source_config: BaseSource, metrics: SelfMetrics, transport: Any) -> Target:
    """The target's upstream client and source; OSError (a TLS file) on failure."""
    vendor = plugin(source_config.kind)
    url, note = base_url(vendor, source_config)
    if note:
        log.info("base_url adjusted", extra={"target": source_config.name, "note": note})
    settings = upstream_settings(vendor, source_config, url)
    if settings.tls is not None and settings.tls.insecure_skip_verify:
        log.warning(
            "TLS CERTIFICATE VERIFICATION IS OFF (insecure_skip_verify): anyone on the"
            " path can read the API key",
            extra={"target": source_config.name},
        )
    upstream = Upstream(settings, metrics, transport=transport)
    return Target(
        name=source_config.name,
        kind=vendor.kind,
        interval=float(source_config.interval),
        timeout=settings.timeout,
        source=vendor.build(source_config, upstream),
        upstream=upstream,
        settings=series_settings(source_config),
    )


def check_origins(ledger: Ledger, target: str, count_from: int) -> None:
    """State written before `count_from` was set (or with another one) keeps its origin:
    moving it would count buckets twice or drop them. Said once, at start."""
    kept = sorted(
        name
        for name, (origin, width) in ledger.origins(target).items()
        if origin
        not in {fixed_origin(Stream(name, width, 0, 0, m), count_from) for m in (False, True)}
    )
    if kept:
        log.warning(
            "count_from differs from the state's origin: the state's origin is kept (no"
            " bucket counted twice); delete the state to count from count_from",
            extra={"target": target, "streams": ",".join(kept)[:500]},
        )


def note_settings(ledger: Ledger, target: Target) -> None:
    """Compare the target's series settings with the ones its ledger rows were counted
    with: changed (while the exporter was stopped, or the target removed), the first poll
    hands its streams over; unknown (a 0.1.0 state file) or new, they are recorded."""
    stored = ledger.settings(target.name)
    if stored is not None and stored != target.settings and ledger.origins(target.name):
        target.hand_over = True
        log.info(
            "series settings differ from the state's: handing over at the first poll",
            extra={"target": target.name},
        )
    elif stored != target.settings:
        ledger.save_settings(target.name, target.settings)


async def hand_over(ledger: Ledger, target: Target) -> None:
    """The target's series change (group_by, bucket width, ...): every open bucket of its
    counter streams is settled at the value last read and each cursor moves to the next
    boundary of the new width, so the new series start there and nothing is counted twice."""
    try:
        async with asyncio.timeout(10):
            streams = await target.source.streams()
    except (TimeoutError, UpstreamError):
        streams = []
    widths = {s.name: s.width for s in streams if s.width > 0}
    ledger.hand_over(target.name, widths)
    ledger.save_settings(target.name, target.settings)
    target.hand_over = False
    log.info(
        "series settings changed: streams handed over at the next bucket boundary",
        extra={"target": target.name},
    )
