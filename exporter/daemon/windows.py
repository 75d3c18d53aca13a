"""Which window of a stream a poll reads next: the whole decision in one place.

A window runs from the stream's cursor (or, never read, from its origin) to the open bucket. It
is bounded twice: no poll reads more than a first poll does (`backfill`, or `lookback` if
larger, plus a bucket), so a long outage is caught up over several polls; and a stream whose
read ran out of time asks for half that window next time, and doubles it after each read that
left time to spare, until it has caught up (docs/architecture.md, "Where the code departs").
Pure: the caller passes what the ledger stored (the cursor) and says how each read went.
"""

from __future__ import annotations

from exporter.model import Stream, Window, align_down, align_up, month_start

SPARE = 3
"""A halved window doubles only after a read that used less than 1/SPARE of its time: a doubled
window that times out again costs a whole poll, and one that alternates between fitting and not
fitting falls behind."""


def fixed_origin(stream: Stream, count_from: int) -> int:
    """Where a stream's counters begin with a fixed `count_from`: the bucket containing it, or
    for a stream with month gauges the start of its UTC month (so month-to-date is whole). A
    function of `count_from` alone: every replica and every new owner of a target agrees."""
    if stream.month_origin:
        return align_down(month_start(count_from), stream.width)
    return align_down(count_from, stream.width)


def origin(stream: Stream, now: int, count_from: int | None = None) -> int:
    """Where a stream never read begins: `count_from`'s bucket, else `backfill` before now (for
    month gauges at the latest the start of the UTC month)."""
    if count_from is not None:
        return fixed_origin(stream, count_from)
    start = align_down(now - stream.backfill, stream.width)
    if stream.month_origin:
        start = min(start, align_down(month_start(now), stream.width))
    return start


def next_window(
    stream: Stream,
    now: int,
    cursor: int | None,
    count_from: int | None = None,
    max_span: int | None = None,
) -> Window:
    """What to read next: from `cursor` (the ledger's; None: never read, from the origin) to
    the open bucket, but at most `max_span` seconds (after a read ran out of time). A cursor
    at or past the open bucket's end (a hand-over's boundary) gives an empty window."""
    if stream.width <= 0:
        return Window(now, now)
    first = origin(stream, now, count_from)
    start = cursor if cursor is not None else first
    # A poll never reads more than a first poll does: after a long outage the cursor
    # catches up over several polls instead of timing out on the whole gap every time.
    span = max(now - first, stream.lookback) + stream.width
    if max_span is not None:
        # Never shorter than a steady poll's window (lookback, the open bucket and the one
        # before it): the limit slows a catch-up, it must not stop a poll short of now.
        span = min(span, max(max_span, stream.lookback + 2 * stream.width))
    return Window(start, min(align_up(now + 1, stream.width), align_up(start + span, stream.width)))


class WindowPlanner:
    """The windows of every stream of every target: their fixed origins (`count_from`) and the
    shorter windows of streams whose read ran out of time. Asked for a window before each read
    and told how the read went."""

    def __init__(self) -> None:
        self._count_from: dict[str, int | None] = {}  # target -> its fixed origin
        # (target, stream) -> the longest window to ask for, after a read ran out of time
        self._spans: dict[tuple[str, str], int] = {}

    def declare(self, target: str, count_from: int | None) -> None:
        """The target's fixed origin (`count_from`, unix s; None: `backfill` before now)."""
        self._count_from[target] = count_from

    def window(self, target: str, stream: Stream, now: int, cursor: int | None) -> Window:
        """The window the next read of `stream` asks for, `cursor` being the ledger's."""
        return next_window(
            stream,
            now,
            cursor,
            self._count_from.get(target),
            self._spans.get((target, stream.name)),
        )

    def timed_out(self, target: str, stream: Stream, window: Window) -> None:
        """The read of `window` ran out of time: the next one asks for half of it."""
        if stream.width > 0:
            span = align_down((window.end - window.start) // 2, stream.width)
            self._spans[(target, stream.name)] = span

    def read_whole(
        self, target: str, stream: Stream, window: Window, now: int, used: float, budget: float
    ) -> None:
        """The read of `window` succeeded in `used` of its `budget` seconds: caught up (the
        window reached the open bucket), the limit goes; with time to spare, it doubles."""
        key = (target, stream.name)
        if key not in self._spans:
            return
        if window.end >= align_up(now + 1, stream.width):
            del self._spans[key]
        elif used < budget / SPARE:
            self._spans[key] *= 2

    def catching_up(self, target: str | None = None) -> bool:
        """Whether a stream (of `target`, or of any target) reads shorter windows."""
        return any(target is None or key[0] == target for key in self._spans)

    def forget(self, target: str) -> None:
        """A target stopped (removed, or changed and restarted): its streams read whole
        windows again."""
        for key in [k for k in self._spans if k[0] == target]:
            del self._spans[key]
