"""The vendor-free vocabulary shared by sources, the ledger and the renderer.

Data flows one way: a source reads its upstream and returns `StreamRead`s made of `Flow`s
(a value per time bucket) and `Level`s (a last value); the ledger turns them into `Sample`s.
Nothing here knows a vendor, and nothing here knows SQLite or the exposition format.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol

Labels = tuple[str, ...]
"""Label values, in the order of `Family.labels` (the `target` label is not included)."""

MAX_LABEL_LENGTH = 256
"""Upstream label values are untrusted text: longer ones are cut to this many characters."""


def bound_label(value: str) -> str:
    """A label value as it is stored and exported: at most MAX_LABEL_LENGTH characters, valid
    UTF-8 (lone surrogates become `?`). Done before a series is keyed, so two values that look
    the same once bounded are one series, not two series with equal labels."""
    if len(value) > MAX_LABEL_LENGTH:
        value = value[:MAX_LABEL_LENGTH]
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def bound_labels(labels: Labels) -> Labels:
    joined = "".join(labels)
    if joined.isascii() and (
        len(joined) <= MAX_LABEL_LENGTH or max(map(len, labels)) <= MAX_LABEL_LENGTH
    ):
        return labels  # the common case, checked without a Python call per value
    return tuple(map(bound_label, labels))


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"  # self-metrics only: a vendor's families are counters and gauges


class Period(StrEnum):
    """A calendar period (UTC) over which the ledger sums a counter's buckets into a gauge."""

    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family, declared once, in its source's table.

    `name` is the sample name users query (counters end in `_total`). `labels` are the label
    names besides `target`, in exposition order. A gauge with `sums` set is derived by the ledger:
    the sum of the buckets of counter family `sums` that started in the current `period`.
    A counter with `history` set keeps what it counted per UTC day beyond its `lookback`, for
    the ledger's retention (the cost export reads it; `exporter/focus/`).
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    sums: str = ""
    period: Period | None = None
    history: bool = False

    @property
    def base_name(self) -> str:
        """The OpenMetrics family name: the sample name without `_total`."""
        if self.kind is Kind.COUNTER and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name


@dataclass(frozen=True, slots=True)
class Flow:
    """The upstream's latest value for one series in one time bucket `[start, end)` (unix s)."""

    family: str
    labels: Labels
    start: int
    end: int
    value: float


@dataclass(frozen=True, slots=True)
class Level:
    """A last value (bytes stored, latency, utilisation): a gauge sample."""

    family: str
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Stream:
    """One independently read series of buckets of a target (an endpoint, a bucket, a key).

    `name` is the ledger's key: stable across restarts, unique within a target. `width` (s) is the
    bucket width windows are aligned to; 0 means the stream yields levels only. Each poll re-reads
    `lookback` seconds before now; the first poll reaches back `backfill` seconds (aligned down to
    `width`), or to the start of the UTC month when `month_origin` is set (for period gauges).

    `every` > 0 makes a *resource*: a levels-only stream (names, limits) read on its own slower
    schedule, every `every` seconds, outside the target's polls. A failed read keeps its last
    levels and does not fail the target's poll; `Unavailable` turns it off.
    """

    name: str
    width: int
    lookback: int
    backfill: int
    month_origin: bool = False
    every: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """The time range `[start, end)` (unix s) a poll must re-read completely for one stream."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class StreamRead:
    """Everything one poll learned about one stream.

    Coverage `[start, end)`: every bucket starting in it was re-read, so a stored bucket starting
    in it that is not among `flows` is now zero. Flows starting before `start` are ignored (their
    buckets may be settled). `levels` replace every level this stream reported before.
    `unknown_fields` counts response fields the parser did not know (schema drift);
    `inconsistencies` counts answers that contradict themselves (parts not adding up to a total).
    """

    stream: str
    start: int
    end: int
    flows: Sequence[Flow] = ()
    levels: Sequence[Level] = ()
    unknown_fields: int = 0
    inconsistencies: int = 0


class Sample(NamedTuple):
    """One series as rendered: label values (without `target`), value, and creation time.
    A named tuple: a render builds one per series, and a frozen dataclass is slower to make."""

    labels: Labels
    value: float
    created: float | None = None


@dataclass(frozen=True, slots=True)
class FamilySamples:
    """A family with its samples for one target."""

    family: Family
    target: str
    samples: Sequence[Sample] = field(default_factory=tuple)


class Source(Protocol):
    """What the daemon needs from a source: its streams and a way to read one of them.

    A source knows its vendor's HTTP API and nothing of Prometheus or the ledger. `read` raises
    `exporter.upstream.UpstreamError` (or any exception) when the stream could not be read whole.
    """

    async def streams(self) -> Sequence[Stream]: ...

    async def read(self, stream: Stream, window: Window) -> StreamRead: ...


class Unavailable(Exception):
    """Raised by `Source.read` for a resource stream the upstream refuses to this key for good
    (no permission, not offered): the stream is turned off until a reload or restart, with one
    log line, and the target stays up."""


def align_down(t: int, width: int) -> int:
    """The start of the `width`-aligned bucket containing `t` (UTC epoch alignment)."""
    return t - t % width if width > 0 else t


def align_up(t: int, width: int) -> int:
    """The smallest `width` boundary at or after `t`."""
    return -(-t // width) * width if width > 0 else t


def month_start(t: int) -> int:
    """The start of the UTC month containing `t`."""
    tm = time.gmtime(t)
    return calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0))


def months_before(t: int, count: int) -> int:
    """The start of the UTC month `count` months before the one containing `t`."""
    start = month_start(t)
    for _ in range(count):
        start = month_start(start - 1)
    return start
