"""Checked conversions of upstream JSON values, shared by the sources.

A value that is not what the vendor documents fails the read (the stream is re-read next poll)
rather than being counted: garbage never reaches a counter.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from exporter.upstream.errors import UpstreamError

LATEST = 2**33  # year 2242: anything later is not a usage timestamp


def quantity(value: Any, endpoint: str, field: str, *, strings: bool = False) -> float:
    """A finite count or amount >= 0; numeric strings only where the vendor sends them."""
    if isinstance(value, bool):
        raise UpstreamError(endpoint, f"{field}: expected a number, got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif strings and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            shown = value[:32]
            raise UpstreamError(endpoint, f"{field}: expected a number, got {shown!r}") from None
    else:
        raise UpstreamError(endpoint, f"{field}: expected a number, got {type(value).__name__}")
    if not math.isfinite(number) or number < 0:
        raise UpstreamError(endpoint, f"{field}: expected a finite number >= 0, got {number}")
    return number


def timestamp(value: Any, endpoint: str) -> int:
    """Unix seconds from ISO 8601 (naive means UTC) or from epoch seconds or milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise UpstreamError(endpoint, f"timestamp {value} is not a time")
        seconds = int(value / 1000 if value > 10**11 else value)
        if not 0 <= seconds < LATEST:
            raise UpstreamError(endpoint, f"timestamp {value} is out of range")
        return seconds
    if not isinstance(value, str):
        raise UpstreamError(endpoint, "a timestamp is missing")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UpstreamError(endpoint, f"timestamp {value[:40]!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    seconds = int(parsed.timestamp())
    if not 0 <= seconds < LATEST:
        raise UpstreamError(endpoint, f"timestamp {value[:40]!r} is out of range")
    return seconds
