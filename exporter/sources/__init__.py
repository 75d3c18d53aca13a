"""The source kinds the exporter knows: each kind's metric table, defaults and constructor.

Adding an upstream means adding a module with a `FAMILIES` table and a source class, and one
entry here. Nothing else in the exporter names a vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.model import Family, Source
from exporter.sources import anylayer, arthur, openai, telnyx
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


def _openai_headers(config: Any) -> Mapping[str, str]:
    organization = getattr(config, "organization", None)
    return {"OpenAI-Organization": organization} if organization else {}


KINDS: dict[str, SourceKind] = {
    kind.kind: kind
    for kind in (
        SourceKind(
            "openai",
            "OpenAI organization Usage & Costs API",
            openai.FAMILIES,
            openai.DEFAULT_BASE_URL,
            openai.OpenAISource,
            extra_headers=_openai_headers,
        ),
        SourceKind(
            "arthur",
            "Arthur GenAI Engine token usage",
            arthur.FAMILIES,
            arthur.DEFAULT_BASE_URL,
            arthur.ArthurSource,
        ),
        SourceKind(
            "telnyx",
            "Telnyx Cloud Storage bucket usage",
            telnyx.FAMILIES,
            telnyx.DEFAULT_BASE_URL,
            telnyx.TelnyxSource,
            rate_limit_header=telnyx.RATE_LIMIT_HEADER,
        ),
        SourceKind(
            "anylayer",
            'Anylayer (formerly ZKScore) API-key usage ("Get Usage")',
            anylayer.FAMILIES,
            anylayer.DEFAULT_BASE_URL,
            anylayer.AnylayerSource,
            rate_limit_header=anylayer.RATE_LIMIT_HEADER,
        ),
    )
}
