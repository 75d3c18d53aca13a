"""The Analytics API source's revision sweep: where each read starts, and what it remembers.

The API revises values for up to 30 days and allows 60 requests a minute per organization, so a
read can neither re-read 30 days every poll nor skip old data for ever (docs/architecture.md,
"Where the code departs"). Each stream declares `lookback = revision_window`, so the ledger keeps
its buckets open that long; a normal read covers only the recent reach (`StreamRead.start` later
than the window's: older buckets stay as they are), and every `sweep_interval` (and at the first
read of a process) a read covers the whole window, so a row missing there is zero. A read spends
at most its share of the minute's requests; one cut short by that budget covers the whole
buckets it read (rows come in time order) and the next read goes on from there.

Pure functions of a window, a time and a `SweepState`: `analytics_source.py` does the reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.model import Window, align_down

RATE_PER_MINUTE = 60  # the organization's budget for the whole Analytics API


@dataclass(slots=True)
class SweepState:
    """What one stream's reads remember, in memory only: a restart starts with a sweep, which
    re-reads everything a stopped sweep or cut read left, so nothing depends on it surviving.

    `swept`: when the last sweep reached the open bucket (unix s); `resume`: where a read cut
    short by its request budget goes on; `sweeping`: that read is part of a sweep; `read_to`:
    the end of the last read's coverage (a normal read reaches back to it after a gap)."""

    swept: int | None = None
    resume: int | None = None
    sweeping: bool = False
    read_to: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a read's coverage starts, and whether it is part of a sweep."""

    start: int
    sweep: bool


def plan(window: Window, now: int, width: int, recent: int, every: int, state: SweepState) -> Plan:
    """The coverage start of the next read of `window` (the planner's: from the ledger's cursor,
    `revision_window` back, to the open bucket)."""
    if state.resume is not None:  # a cut read goes on where it stopped
        start, sweep = max(window.start, state.resume), state.sweeping
    elif state.swept is None or now - state.swept >= every:
        start, sweep = window.start, True
    else:
        start = align_down(now - recent, width)
        if state.read_to is not None:  # reach back over a gap (an outage) since the last read
            start = min(start, state.read_to)
        start, sweep = max(window.start, start), False
    if start >= window.end:  # the window lies before the recent reach (catching up): all of it
        start = window.start
    return Plan(start, sweep)


def finished(state: SweepState, plan: Plan, window: Window, covered_to: int, now: int) -> None:
    """Record a successful read of `[plan.start, covered_to)`."""
    state.read_to = covered_to
    if covered_to < window.end:  # cut short by the request budget
        state.resume, state.sweeping = covered_to, plan.sweep
        return
    state.resume, state.sweeping = None, False
    if plan.sweep and covered_to > plan.start:  # an empty window (a hand-over's) is no sweep
        state.swept = now


def spans(start: int, end: int, width: int, longest: int) -> list[tuple[int, int]]:
    """`[start, end)` cut into request ranges of at most `longest` seconds, on bucket bounds."""
    step = max(width, align_down(longest, width))
    out = []
    while start < end:
        out.append((start, min(start + step, end)))
        start += step
    return out


def request_budget(interval: int, streams: int) -> int:
    """Requests one read may make: its share of one minute of the API's rate limit (a poll
    never spends more than a minute's worth, whatever its interval)."""
    return max(1, RATE_PER_MINUTE * min(interval, 60) // 60 // max(1, streams))
