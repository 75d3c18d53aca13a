"""The source kinds the exporter knows: each kind's metric table, defaults and constructor.

Adding an upstream means adding a module with a `FAMILIES` table and a source class, and one
entry here. Nothing else in the exporter names a vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.model import Family, Source
from exporter.sources import anylayer, arthur, arthur_tasks, openai, openai_admin, telnyx
from exporter.sources.composite import Composite
from exporter.upstream import Upstream


@dataclass(frozen=True, slots=True)
class SourceKind:
    """What the daemon needs to know to run one kind of source."""

    kind: str
    title: str
    families: tuple[Family, ...]
    default_base_url: str
    build: Callable[[Any, Upstream], Source]
    rate_limit_header: str = ""
    extra_headers: Callable[[Any], Mapping[str, str]] = field(default=lambda _config: {})
    # the API version every path starts with: a base_url ending in it is cut (not 404 forever)
    api_version: str = ""
    # what a refused call (4xx) most likely means with this vendor, by HTTP status
    error_hints: Mapping[int, str] = field(default_factory=dict)
    # config keys that change which series a stream writes or its bucket layout: a reload that
    # changes one hands the target's streams over at the next bucket boundary (docs/operations.md)
    series_keys: tuple[str, ...] = ()
    # the vendor's documented lateness (seconds) and where it is documented: a shorter
    # `lookback` misses revisions (check-config warns)
    lateness: int = 0
    lateness_source: str = ""


def base_url(kind: SourceKind, config: Any) -> tuple[str, str]:
    """The base URL to call, and a note when a trailing API version was cut off it."""
    url = str(config.base_url or kind.default_base_url).rstrip("/")
    if kind.api_version and url.endswith(kind.api_version):
        cut = url.removesuffix(kind.api_version)
        return cut, (
            f"base_url ends in {kind.api_version}, which the exporter adds to every path itself:"
            f" using {cut}"
        )
    return url, ""


def _openai_headers(config: Any) -> Mapping[str, str]:
    organization = getattr(config, "organization", None)
    return {"OpenAI-Organization": organization} if organization else {}


def _openai(config: Any, upstream: Upstream) -> Source:
    """Usage and costs, with the organization's names and limits on their own schedule (and
    their own concurrency slot: they never hold up a usage call)."""
    return Composite(
        openai.OpenAISource(config, upstream),
        openai_admin.OpenAIAdminSource(config, upstream.with_own_slots()),
    )


def _arthur(config: Any, upstream: Upstream) -> Source:
    """Token usage, with the engine's task names on their own schedule."""
    return Composite(
        arthur.ArthurSource(config, upstream),
        arthur_tasks.ArthurTaskSource(config, upstream.with_own_slots()),
    )


KINDS: dict[str, SourceKind] = {
    kind.kind: kind
    for kind in (
        SourceKind(
            "openai",
            "OpenAI organization Usage & Costs API",
            openai.FAMILIES + openai_admin.FAMILIES,
            openai.DEFAULT_BASE_URL,
            _openai,
            extra_headers=_openai_headers,
            api_version=openai.API_VERSION,
            error_hints=openai.ERROR_HINTS,
            # (`endpoints` is not one: an added endpoint is a new stream, a removed one stops)
            series_keys=("bucket_width", "group_by", "overrides"),
            lateness=2 * 3600,
            lateness_source="OpenAI: closed buckets change as late data arrives; re-read the "
            "last 2-3 hourly buckets",
        ),
        SourceKind(
            "arthur",
            "Arthur GenAI Engine token usage",
            arthur.FAMILIES + arthur_tasks.FAMILIES,
            arthur.DEFAULT_BASE_URL,
            _arthur,
            error_hints=arthur.ERROR_HINTS,
            series_keys=("window", "group_by"),
        ),
        SourceKind(
            "telnyx",
            "Telnyx Cloud Storage bucket usage",
            telnyx.FAMILIES,
            telnyx.DEFAULT_BASE_URL,
            telnyx.TelnyxSource,
            rate_limit_header=telnyx.RATE_LIMIT_HEADER,
            api_version=telnyx.API_VERSION,
            error_hints=telnyx.ERROR_HINTS,
        ),
        SourceKind(
            "anylayer",
            'Anylayer (formerly ZKScore) API-key usage ("Get Usage")',
            anylayer.FAMILIES,
            anylayer.DEFAULT_BASE_URL,
            anylayer.AnylayerSource,
            rate_limit_header=anylayer.RATE_LIMIT_HEADER,
            series_keys=("granularity",),
        ),
    )
}
