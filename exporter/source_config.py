"""The keys every kind of source shares, under the import path plug-ins outside this repository
use (CONTRIBUTING.md, "A vendor outside this repository"): the code is `exporter.config.source`."""

from exporter.config.source import (
    SYNTAX_ONLY,
    BaseSource,
    Duration,
    Instant,
    Strict,
    TLSConfig,
    check_keys,
    parse_duration,
    parse_instant,
)

__all__ = [
    "SYNTAX_ONLY",
    "BaseSource",
    "Duration",
    "Instant",
    "Strict",
    "TLSConfig",
    "check_keys",
    "parse_duration",
    "parse_instant",
]
