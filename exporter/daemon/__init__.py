"""The daemon: one scheduled poll per target, the ledger commit, and the snapshot swap.

A poll reads every stream of a target concurrently (`exporter.daemon.reads`), commits what was
read in one ledger transaction, updates the self-metrics and re-renders the exposition. A failed
stream changes nothing (its buckets are re-read next time); a cancelled poll (shutdown, timeout)
changes nothing. A scrape never waits on a poll: it is served from the last rendered bytes.
Which window of a stream a poll reads is `exporter.daemon.windows`'s decision; resources have a
job of their own (`exporter.daemon.resources`); a reload is a diff (`exporter.daemon.reload`); the
process around the daemon (listener, signals, the scheduler's life) is `exporter.cli.process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exporter import __version__
from exporter.config.load import Config
from exporter.config.source import BaseSource
from exporter.daemon import reads, reload, resources, schedule, targets
from exporter.daemon.problems import ProblemLog
from exporter.daemon.reads import PollReads
from exporter.daemon.sharding import Shard
from exporter.daemon.targets import Target
from exporter.daemon.windows import WindowPlanner
from exporter.exposition.render import Renderer
from exporter.exposition.served import Exposition
from exporter.focus.export import FocusExport
from exporter.http.state import ServerState, TargetStatus
from exporter.ledger import CommitStats, Ledger, LedgerError
from exporter.runtime.gc_pause import without_gc
from exporter.runtime.memory import release_free_memory
from exporter.selfmetrics import SelfMetrics
from exporter.vendors import plugin

__all__ = ["LEDGER_FILE", "Daemon", "PollReads", "Target"]

log = logging.getLogger("exporter.daemon")

LEDGER_FILE = "ledger.sqlite"


class Daemon:
    """Owns the ledger, the window planner, the self-metrics, the targets and the server state."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        transport: Any = None,
        shard: Shard | None = None,
    ) -> None:
        self.clock = clock
        self.shard = shard or Shard()
        state_dir = Path(config.state_dir)
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # named by its key: `[Errno 2] ... '/proc/nope'` names none
            raise LedgerError(
                f"state_dir: cannot create {state_dir}: {err.strerror or err}"
            ) from None
        self.ledger = Ledger(
            state_dir / LEDGER_FILE, history_months=int(config.cost_history_months)
        )
        self.metrics = SelfMetrics(__version__)
        self.problems = ProblemLog(log, clock)  # one warning per problem, not per request
        self.metrics.shard(self.shard.index, self.shard.total)
        self.state = ServerState(
            shard=(self.shard.index, self.shard.total),
            focus=FocusExport(
                state_dir / LEDGER_FILE, int(config.cost_history_months), clock=clock
            ),
        )
        self._render_lock = asyncio.Lock()
        self._renderer = Renderer()  # keeps unchanged chunks from one rendering to the next
        self.windows = WindowPlanner()  # what each stream reads next
        self.targets: list[Target] = []
        owned = [s for s in config.sources if self.shard.owns(s.name)]
        if self.shard.total > 1:
            log.info(
                "sharded",
                extra={
                    "shard": self.shard.index,
                    "total_shards": self.shard.total,
                    "targets": ",".join(s.name for s in owned) or "(none)",
                },
            )
        self.config = config
        self._transport = transport
        self.configs: dict[str, BaseSource] = {}  # target name -> its source config
        self._polling: dict[str, asyncio.Task[Any]] = {}  # job id -> its poll in flight
        self._scheduler: AsyncIOScheduler | None = None
        self._reload_lock = asyncio.Lock()
        self._stopping = False  # set by `stopping()`: a cancelled poll then ends quietly
        for source_config in owned:
            self.add_target(self.build_target(source_config), source_config)
        self.metrics.config_loaded(True, self.clock())
        self.render_now()

    # -- targets ---------------------------------------------------------------------------------

    def build_target(self, source_config: BaseSource) -> Target:
        """The target's upstream client and source; OSError (a TLS file) on failure."""
        return targets.build_target(source_config, self.metrics, self._transport)

    def add_target(self, target: Target, source_config: BaseSource) -> None:
        """Declare a built target to the ledger, the self-metrics and the server state."""
        vendor = plugin(target.kind)
        self.targets.append(target)
        self.configs[target.name] = source_config
        count_from = source_config.count_from
        self.ledger.declare(target.name, vendor.families, int(source_config.max_series_per_family))
        self.windows.declare(target.name, count_from)
        if count_from is not None:
            targets.check_origins(self.ledger, target.name, int(count_from))
        targets.note_settings(self.ledger, target)
        self.metrics.register_target(target.name, target.kind)
        self.state.targets[target.name] = TargetStatus(
            name=target.name,
            source=target.kind,
            up=False,
            polled=False,
            last_success=None,
            last_error="",
        )

    async def hand_over(self, target: Target) -> None:
        """Settle the target's open buckets and move its cursors (`targets.hand_over`)."""
        await targets.hand_over(self.ledger, target)

    async def reload(self, path: Path) -> tuple[bool, str]:
        """Load `path` and apply it without a restart; (ok, message): `exporter.daemon.reload`."""
        async with self._reload_lock:
            return await reload.reload(self, path)

    async def stop_target(self, target: Target) -> None:
        """Unschedule the target, cancel its poll in flight (which commits nothing) and close
        its client."""
        if self._scheduler is not None:
            for job in schedule.jobs(target.name):
                with contextlib.suppress(Exception):
                    self._scheduler.remove_job(job)
        for job in schedule.jobs(target.name):
            task = self._polling.get(job)
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.windows.forget(target.name)
        await target.upstream.aclose()

    def schedule(self, target: Target, first: dt.datetime | None = None) -> None:
        """Poll the target on the scheduler, once there is one (`start`)."""
        if self._scheduler is not None:
            first = first or dt.datetime.now(dt.UTC)
            schedule.schedule(self._scheduler, target, first, self.poll, self.poll_resources)

    # -- rendering -------------------------------------------------------------------------------

    def render_now(self) -> None:
        """Re-render the exposition from the ledger and self-metrics, and swap it in."""
        self.state.exposition = self._render()
        self.state.changed()

    def _render(self) -> Exposition:
        families = [fs for target in self.targets for fs in self.ledger.samples(target.name)]
        exposition = self._renderer.render(families, self.metrics.registry)
        del families
        release_free_memory()
        return exposition

    async def render_in_background(self, *, publish: bool = True) -> None:
        """`render_now` in a worker thread, one at a time: at 100k series rendering takes about a
        second, and scrapes keep being answered from the previous bytes meanwhile. Reading the
        ledger off the loop is safe because `Ledger.samples` takes the ledger's publish lock: a
        commit changes series in place while it holds that lock, so a rendering waits for a
        commit in flight (in its worker thread, not the loop's) and reads one durable state.
        `publish=False`: the caller changes more and calls `state.changed()` itself."""
        async with self._render_lock:
            self.state.exposition = await asyncio.to_thread(without_gc(self._render))
        if publish:
            self.state.changed()

    # -- polls -----------------------------------------------------------------------------------

    async def _tracked(
        self, job: str, target: str, what: str, run: Awaitable[bool | None]
    ) -> bool | None:
        """Run a target's job, known as its poll in flight (a reload or shutdown cancels it):
        cancelled while the process stops, it ends as a finished job, with one log line."""
        task = asyncio.current_task()
        if task is not None:
            self._polling[job] = task
        try:
            return await run
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.info(f"{what} cancelled: shutting down", extra={"target": target})
            return False
        finally:
            if self._polling.get(job) is task:
                del self._polling[job]

    async def poll(self, target: Target) -> bool:
        """Read every stream of `target`, commit, update self-metrics, re-render."""
        return bool(await self._tracked(target.name, target.name, "poll", self._poll(target)))

    async def _poll(self, target: Target) -> bool:
        """A pending hand-over first, then read, commit and report."""
        if target.hand_over and not await self._hand_over_first(target):
            return False
        started = time.monotonic()
        now = int(self.clock())
        polled = await reads.read_streams(target, now, self.ledger, self.windows)
        stats = await self._commit(target, now, polled)
        return await self._report(target, polled, stats, time.monotonic() - started)

    async def _hand_over_first(self, target: Target) -> bool:
        """The series settings changed while the exporter was stopped: hand the streams over
        before anything is read. False (a failed poll) when that cannot be saved: counting on
        without it would count twice."""
        try:
            await self.hand_over(target)
        except LedgerError as err:
            log.warning("poll failed", extra={"target": target.name, "error": str(err)})
            return False
        return True

    async def _commit(self, target: Target, now: int, polled: PollReads) -> CommitStats | None:
        """Save the streams read whole in one ledger transaction; None when it could not be
        saved (the poll's error: the cursors did not move, the next poll reads it again). A poll
        that read every stream also drops the gauges of the streams no longer listed."""
        if polled.usage_streams and not polled.errors:
            try:
                reads.forget_vanished(self.ledger, target, {s.name for s in polled.listed})
            except LedgerError as err:
                polled.failed(f"state not saved: {err}")
        try:
            # In a worker thread: folding 100k rows takes seconds of CPU, and the event loop
            # keeps answering scrapes meanwhile (the ledger serialises its writers).
            return await asyncio.to_thread(
                without_gc(self.ledger.commit), target.name, now, polled.reads
            )
        except LedgerError as err:
            polled.failed(f"state not saved: {err}")
            return None

    async def _report(
        self, target: Target, polled: PollReads, stats: CommitStats | None, duration: float
    ) -> bool:
        """Show how the poll went in the self-metrics, /metrics, the target's status (`/`,
        /readyz) and the log; whether it read and saved every stream."""
        if stats is not None:
            reads.count_commit(self.metrics, target, polled, stats)
        ok = not polled.errors
        watermark = self.ledger.watermark(target.name)
        self.metrics.poll_finished(
            target.name,
            target.kind,
            ok,
            duration,
            self.clock(),
            float(watermark) if watermark is not None else None,
        )
        # Render first: /readyz must not say ready before /metrics shows this poll.
        await self.render_in_background(publish=False)
        status = self.state.targets[target.name]
        status.polled = True
        status.up = ok
        status.last_error = "; ".join(polled.errors)[:1000]
        if ok:
            status.last_success = self.clock()
            log.info(
                "poll finished",
                extra={
                    "target": target.name,
                    "streams": len(polled.reads),
                    "duration": round(duration, 3),
                },
            )
        else:
            self.problems.report(
                "poll failed", target.name, polled.failures, quiet=target.interval / 2
            )
        self.state.changed()  # the bytes and the status together
        return ok

    async def poll_resources(self, target: Target, *, force: bool = False) -> None:
        """Read the target's resource streams that are due (all with `force`), commit the
        ones read, re-render (`exporter.daemon.resources`)."""
        job = resources.resources_job(target.name)
        await self._tracked(job, target.name, "resources read", self._poll_resources(target, force))

    async def _poll_resources(self, target: Target, force: bool) -> None:
        await resources.read_due_resources(
            target,
            force,
            ledger=self.ledger,
            metrics=self.metrics,
            problems=self.problems,
            clock=self.clock,
            render=self.render_in_background,
        )

    async def poll_all(self) -> bool:
        """Poll every target once, and read its resources that are due (all on the first call;
        their failures do not count)."""
        with self.problems.held("poll failed"):
            results = await asyncio.gather(
                *(self.poll(t) for t in self.targets),
                *(self.poll_resources(t) for t in self.targets),
            )
        return all(r for r in results if r is not None)

    # -- life ------------------------------------------------------------------------------------

    def stopping(self) -> None:
        """The process is shutting down: a poll cancelled from now on commits nothing (as
        always) and ends as a finished job, not as an error with a traceback in the log."""
        self._stopping = True

    async def aclose(self) -> None:
        for target in self.targets:
            await target.upstream.aclose()
        self.ledger.close()

    def start(self, scheduler: AsyncIOScheduler) -> None:
        """Poll every target on `scheduler` from now on, and the targets a reload adds; the
        process that runs the daemon starts and stops the scheduler (`exporter.cli.process`)."""
        self._scheduler = scheduler
        first = dt.datetime.now(dt.UTC)
        for target in self.targets:
            self.schedule(target, first)
