"""A target's resource streams (names and limits, `Stream.every`): read on a job of their own,
each when its own interval has passed, so they never delay a usage poll.

A failed read keeps the resource's last levels and is retried after the target's interval;
`Unavailable` turns the resource off (one log line). The target's up and its usage streams are
not touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from exporter.daemon.problems import Failure, ProblemLog, failure
from exporter.daemon.reads import describe_error
from exporter.daemon.targets import Target
from exporter.ledger import Ledger, LedgerError
from exporter.model import Stream, StreamRead, Unavailable, Window
from exporter.runtime.gc_pause import without_gc
from exporter.selfmetrics import SelfMetrics
from exporter.upstream import UpstreamError

log = logging.getLogger("exporter.daemon")

RESOURCE_TICK = 30.0  # seconds between checks for due resources (at most the target's interval)
RESOURCE_TIMEOUT = 120.0  # the least time a resource read is given (its target's timeout if more)


def resources_job(target: str) -> str:
    """The scheduler job (and poll key) of a target's resources; target names have no `/`."""
    return f"{target}/resources"


async def read_due_resources(
    target: Target,
    force: bool,
    *,
    ledger: Ledger,
    metrics: SelfMetrics,
    problems: ProblemLog,
    clock: Callable[[], float],
    render: Callable[[], Awaitable[None]],
) -> None:
    """Read the target's resource streams that are due (all with `force`), commit the ones
    read, and `render` the exposition again when something shows a change."""
    try:
        async with asyncio.timeout(target.timeout):
            listed = list(await target.source.streams())
    except (TimeoutError, UpstreamError) as err:
        text = str(err) or f"timed out after {target.timeout:g}s"
        problems.report(
            "resources not listed",
            target.name,
            [failure("", err, text)],
            quiet=target.interval / 2,
        )
        return
    now = clock()
    due = [
        s
        for s in listed
        if s.every
        and s.name not in target.resources_off
        and (force or now >= target.resource_due.get(s.name, 0.0))
    ]
    if not due:
        return
    # one after another (they share one concurrency slot): each gets its own time budget
    results: list[StreamRead | BaseException] = []
    for stream in due:
        try:
            results.append(await read_resource(target, stream, int(clock())))
        except Exception as err:  # reported per resource below
            results.append(err)
    reads: list[tuple[Stream, StreamRead]] = []
    outcome: dict[str, bool] = {}
    failures: list[Failure] = []
    for stream, result in zip(due, results, strict=True):
        resource = stream.name.rpartition("/")[2]
        if isinstance(result, StreamRead):
            reads.append((stream, result))
            target.resource_due[stream.name] = now + stream.every
            outcome[resource] = True
        elif isinstance(result, Unavailable):
            log.warning(
                "resource turned off",
                extra={"target": target.name, "resource": resource, "error": str(result)},
            )
            target.resources_off.add(stream.name)
            metrics.resource_off(target.name, target.kind, resource)
            try:
                ledger.forget_levels(target.name, stream.name)
            except LedgerError as err:
                log.warning("state not saved", extra={"target": target.name, "error": str(err)})
        else:
            target.resource_due[stream.name] = now + min(stream.every, target.interval)
            outcome[resource] = False
            text = describe_error(stream.name, result)
            failures.append(failure(stream.name, result, text))
    if failures:
        problems.report(
            "resource read failed, last values kept",
            target.name,
            failures,
            quiet=target.interval / 2,
        )
    if reads:
        try:
            stats = await asyncio.to_thread(without_gc(ledger.commit), target.name, int(now), reads)
        except LedgerError as err:
            log.warning("state not saved", extra={"target": target.name, "error": str(err)})
            outcome.update({s.name.rpartition("/")[2]: False for s, _ in reads})
        else:
            metrics.series(target.name, target.kind, stats.series, stats.overflowed)
    for resource, ok in outcome.items():
        metrics.resource_read(target.name, target.kind, resource, ok, clock())
    changed = bool(reads) or any(target.resource_ok.get(r) != ok for r, ok in outcome.items())
    target.resource_ok.update(outcome)
    if changed or len(outcome) < len(due):  # read, newly failing, or turned off
        await render()


async def read_resource(target: Target, stream: Stream, now: int) -> StreamRead:
    """One resource read; it runs in its own job, so it may take longer than a usage
    poll's `timeout` (listing every project's keys one call at a time) without delaying one."""
    limit = max(target.timeout, RESOURCE_TIMEOUT)
    try:
        async with asyncio.timeout(limit):
            return await target.source.read(stream, Window(now, now))
    except TimeoutError:
        raise TimeoutError(f"timed out after {limit:g}s") from None
