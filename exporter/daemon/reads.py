"""Reading a target's usage streams for one poll: list them, read each in the window the
planner gives by the poll's deadline, and collect what was read whole and why the rest was not.

Nothing here writes: the daemon commits the reads in one ledger transaction (a failed stream
changes nothing, its buckets are read again next time).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from exporter.daemon.problems import Failure, failure
from exporter.daemon.targets import Target
from exporter.daemon.windows import WindowPlanner
from exporter.ledger import CommitStats, Ledger
from exporter.model import Stream, StreamRead
from exporter.selfmetrics import SelfMetrics
from exporter.upstream import UpstreamError

log = logging.getLogger("exporter.daemon")


@dataclass
class PollReads:
    """What one poll of a target read: the streams its source listed, the ones read whole, and
    why the others were not (an error makes the poll a failed one)."""

    listed: list[Stream] = field(default_factory=list)
    reads: list[tuple[Stream, StreamRead]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # the errors, with their causes

    def failed(self, error: str, why: Failure | None = None) -> None:
        """Note an error of the poll (`why`: its cause, when a read failed)."""
        self.errors.append(error)
        self.failures.append(why or Failure(error, error))

    @property
    def usage_streams(self) -> list[Stream]:
        """The listed streams a poll reads: resources (`Stream.every`) have a job of their own."""
        return [s for s in self.listed if not s.every]


async def read_streams(
    target: Target, now: int, ledger: Ledger, windows: WindowPlanner
) -> PollReads:
    """List the target's streams and read each one by the poll's deadline, concurrently and
    on its own: the ones read in time are committed even when another one runs out of time
    (resource streams have their own job, `exporter.daemon.resources`)."""
    polled = PollReads()
    deadline = asyncio.get_running_loop().time() + target.timeout
    try:
        async with asyncio.timeout_at(deadline):
            polled.listed = list(await target.source.streams())
    except TimeoutError:
        polled.failed(f"poll timed out after {target.timeout:g}s")
    except UpstreamError as err:  # stream discovery failed
        polled.failed(str(err), failure("", err, str(err)))
    streams = polled.usage_streams
    results = await asyncio.gather(
        *(read(target, stream, now, deadline, ledger, windows) for stream in streams),
        return_exceptions=True,
    )
    for stream, result in zip(streams, results, strict=True):
        if isinstance(result, StreamRead):
            polled.reads.append((stream, result))
        elif isinstance(result, asyncio.CancelledError):
            raise result
        else:
            text = describe_error(stream.name, result)
            polled.failed(text, failure(stream.name, result, text))
    return polled


async def read(
    target: Target,
    stream: Stream,
    now: int,
    deadline: float,
    ledger: Ledger,
    windows: WindowPlanner,
) -> StreamRead:
    """Read one stream by the deadline, in the window the planner gives, and tell the
    planner how it went: a window too long for one poll (a long first backfill, a long
    outage) is read in shorter ones, so the cursor always moves forward."""
    cursor = ledger.cursor(target.name, stream.name)
    window = windows.window(target.name, stream, now, cursor)
    if stream.width > 0 and window.end <= window.start:
        # handed over (a reload changed the series): nothing to read before the boundary
        return StreamRead(stream.name, window.start, window.start)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout_at(deadline):
            found = await target.source.read(stream, window)
    except TimeoutError:
        windows.timed_out(target.name, stream, window)
        raise TimeoutError(
            f"timed out after {target.timeout:g}s reading {window.end - window.start}s;"
            " the next poll reads half of that"
        ) from None
    windows.read_whole(
        target.name, stream, window, now, used=loop.time() - started, budget=deadline - started
    )
    return found


def forget_vanished(ledger: Ledger, target: Target, current: set[str]) -> None:
    """Streams the source no longer lists lose their gauges (`Ledger.forget_levels`)."""
    for name in target.streams - current:
        log.info("stream vanished", extra={"target": target.name, "stream": name})
        ledger.forget_levels(target.name, name)
    target.streams = current


def count_commit(
    metrics: SelfMetrics, target: Target, polled: PollReads, stats: CommitStats
) -> None:
    """The self-metrics a commit moves: revisions, series, schema drift, contradictions."""
    metrics.revisions(target.name, target.kind, stats.revisions_up, stats.revisions_down)
    metrics.series(target.name, target.kind, stats.series, stats.overflowed)
    unknown = sum(read.unknown_fields for _, read in polled.reads)
    if unknown:
        metrics.unknown_fields(target.name, target.kind, unknown)
    inconsistent = sum(read.inconsistencies for _, read in polled.reads)
    if inconsistent:
        metrics.inconsistencies(target.name, target.kind, inconsistent)


def describe_error(stream: str, error: BaseException) -> str:
    """A failed read in one line: an upstream's own message, or the exception's type and text."""
    if isinstance(error, UpstreamError):
        return str(error)
    log.debug("stream read raised", exc_info=error)
    return f"{stream}: {type(error).__name__}: {str(error)[:200]}"
