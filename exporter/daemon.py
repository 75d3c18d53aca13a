"""The daemon: one scheduled poll per target, the ledger commit, and the snapshot swap.

A poll reads every stream of a target concurrently, commits what was read in one ledger
transaction, updates the self-metrics and re-renders the exposition. A failed stream changes
nothing (its buckets are re-read next time); a cancelled poll (shutdown, timeout) changes nothing.
A scrape never waits on a poll: it is served from the last rendered bytes. Which window of a
stream a poll reads is `exporter.windows`'s decision; the process around the daemon (listener,
signals, the scheduler's life) is `exporter.process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exporter import __version__
from exporter.config import Config
from exporter.exposition import Exposition, Renderer
from exporter.focus.export import FocusExport
from exporter.gc_pause import without_gc
from exporter.ledger import CommitStats, Ledger, LedgerError
from exporter.model import Source, Stream, StreamRead, Unavailable, Window
from exporter.plugin import base_url, upstream_settings
from exporter.problems import Failure, ProblemLog, failure
from exporter.selfmetrics import SelfMetrics
from exporter.server import ServerState, TargetStatus
from exporter.sharding import Shard
from exporter.source_config import BaseSource
from exporter.upstream import Upstream, UpstreamError
from exporter.vendors import plugin
from exporter.windows import WindowPlanner, fixed_origin

log = logging.getLogger(__name__)

LEDGER_FILE = "ledger.sqlite"


@dataclass
class Target:
    """A configured account/organization/engine and the objects that read it."""

    name: str
    kind: str
    interval: float
    timeout: float
    source: Source
    upstream: Upstream
    streams: set[str] = field(default_factory=set)
    settings: str = ""  # the settings that decide its series (series_settings)
    hand_over: bool = False  # they differ from the ones the ledger counted with: first poll
    # resource streams (`Stream.every`): when each is next due (unix s), and the ones turned off
    resource_due: dict[str, float] = field(default_factory=dict)
    resources_off: set[str] = field(default_factory=set)
    resource_ok: dict[str, bool] = field(default_factory=dict)  # the last read of each


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


def series_settings(config: BaseSource) -> str:
    """The values of the source's `series_keys` as JSON: what its series and bucket layout
    depend on. Kept in the ledger per target, so a change is seen at a reload or a restart."""

    def plain(value: Any) -> Any:
        if hasattr(value, "model_dump"):
            return value.model_dump(mode="json", exclude_defaults=True)
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    keys = plugin(config.kind).series_keys
    return json.dumps({k: plain(getattr(config, k, None)) for k in keys}, sort_keys=True)


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
        self._clock = clock
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
        self._configs: dict[str, BaseSource] = {}  # target name -> its source config
        self._polling: dict[str, asyncio.Task[Any]] = {}  # target name -> its poll in flight
        self._scheduler: AsyncIOScheduler | None = None
        self._reload_lock = asyncio.Lock()
        self._stopping = False  # set by `stopping()`: a cancelled poll then ends quietly
        for source_config in owned:
            self._add_target(self._build_target(source_config), source_config)
        self.metrics.config_loaded(True, self._clock())
        self.render()

    def _build_target(self, source_config: BaseSource) -> Target:
        """The target's upstream client and source; OSError (a TLS file) on failure."""
        kind = plugin(source_config.kind)
        url, note = base_url(kind, source_config)
        if note:
            log.info("base_url adjusted", extra={"target": source_config.name, "note": note})
        settings = upstream_settings(kind, source_config, url)
        if settings.tls is not None and settings.tls.insecure_skip_verify:
            log.warning(
                "TLS CERTIFICATE VERIFICATION IS OFF (insecure_skip_verify): anyone on the"
                " path can read the API key",
                extra={"target": source_config.name},
            )
        upstream = Upstream(settings, self.metrics, transport=self._transport)
        return Target(
            name=source_config.name,
            kind=kind.kind,
            interval=float(source_config.interval),
            timeout=settings.timeout,
            source=kind.build(source_config, upstream),
            upstream=upstream,
            settings=series_settings(source_config),
        )

    def _add_target(self, target: Target, source_config: BaseSource) -> None:
        """Declare a built target to the ledger, the self-metrics and the server state."""
        kind = plugin(target.kind)
        self.targets.append(target)
        self._configs[target.name] = source_config
        count_from = source_config.count_from
        self.ledger.declare(target.name, kind.families, int(source_config.max_series_per_family))
        self.windows.declare(target.name, count_from)
        if count_from is not None:
            self._check_origins(target.name, int(count_from))
        self._note_settings(target)
        self.metrics.register_target(target.name, target.kind)
        self.state.targets[target.name] = TargetStatus(
            name=target.name,
            source=target.kind,
            up=False,
            polled=False,
            last_success=None,
            last_error="",
        )

    def _check_origins(self, target: str, count_from: int) -> None:
        """State written before `count_from` was set (or with another one) keeps its origin:
        moving it would count buckets twice or drop them. Said once, at start."""
        kept = sorted(
            name
            for name, (origin, width) in self.ledger.origins(target).items()
            if origin
            not in {fixed_origin(Stream(name, width, 0, 0, m), count_from) for m in (False, True)}
        )
        if kept:
            log.warning(
                "count_from differs from the state's origin: the state's origin is kept (no"
                " bucket counted twice); delete the state to count from count_from",
                extra={"target": target, "streams": ",".join(kept)[:500]},
            )

    def _note_settings(self, target: Target) -> None:
        """Compare the target's series settings with the ones its ledger rows were counted
        with: changed (while the exporter was stopped, or the target removed), the first poll
        hands its streams over; unknown (a 0.1.0 state file) or new, they are recorded."""
        stored = self.ledger.settings(target.name)
        if stored is not None and stored != target.settings and self.ledger.origins(target.name):
            target.hand_over = True
            log.info(
                "series settings differ from the state's: handing over at the first poll",
                extra={"target": target.name},
            )
        elif stored != target.settings:
            self.ledger.save_settings(target.name, target.settings)

    # -- reload ----------------------------------------------------------------------------------

    async def reload(self, path: Path) -> tuple[bool, str]:
        """Load `path` and apply it without a restart; (ok, message). A file that does not
        validate, or whose targets cannot be built (a TLS file), is refused whole and the
        running config stays. Applied: unchanged targets keep polling untouched, removed ones
        stop (their series leave /metrics, their ledger rows stay), added ones start, changed
        ones restart on their cursors; a change of a key that changes the series
        (`SourceKind.series_keys`) first hands the target's streams over at the next bucket
        boundary (docs/operations.md)."""
        from exporter.checks import warnings as check_warnings
        from exporter.config import ConfigError, load_config, secrets
        from exporter.logs import register_secret

        async with self._reload_lock:
            built: dict[str, Target] = {}
            notes: list[str] = []
            try:
                config = load_config(path, notes=notes)
                for secret in secrets(config):
                    register_secret(secret)
                if Path(config.state_dir) != Path(self.config.state_dir):
                    raise ConfigError(
                        f"state_dir: changed from {self.config.state_dir} to {config.state_dir};"
                        " the ledger is open: restart to move it"
                    )
                wanted = [s for s in config.sources if self.shard.owns(s.name)]
                for index, source_config in enumerate(config.sources):
                    old = self._configs.get(source_config.name)
                    if old is not None and old.kind != source_config.kind:
                        raise ConfigError(
                            f"sources[{index}].kind: target {source_config.name!r} was"
                            f" {old.kind}; a target cannot change kind: give it a new name"
                        )
                for source_config in wanted:
                    if self._configs.get(source_config.name) != source_config:
                        built[source_config.name] = self._build_target(source_config)
            except (ConfigError, OSError, ValueError) as err:
                for target in built.values():
                    await target.upstream.aclose()
                message = str(err)
                log.error("config reload failed", extra={"file": str(path), "error": message})
                self.metrics.config_loaded(False, self._clock())
                await self.refresh()
                return False, message
            for note in notes + check_warnings(config):
                log.warning("config warning: " + note)
            names = [s.name for s in wanted]
            removed = [t for t in self.targets if t.name not in names]
            changed = [t for t in self.targets if t.name in built]
            for target in removed + changed:
                await self._stop(target)
            for target in removed:
                self.metrics.unregister_target(target.name)
                self.state.targets.pop(target.name, None)
                self._configs.pop(target.name, None)
            handed_over: list[str] = []
            kept = {t.name: t for t in self.targets if t.name not in built and t.name in names}
            self.targets = []
            for source_config in wanted:
                name = source_config.name
                if name in kept:
                    self.targets.append(kept[name])
                    continue
                before = self._configs.get(name)
                target = built[name]
                if before is not None:
                    # against what the ledger counted with (a hand-over still pending from the
                    # start is not lost by a reload that changes something else)
                    if self.ledger.settings(name) not in (None, target.settings):
                        try:
                            await self._hand_over(target)
                        except LedgerError as err:  # not started: it would count twice
                            log.error(
                                "target not restarted",
                                extra={"target": name, "error": str(err)},
                            )
                            await target.upstream.aclose()
                            continue
                        handed_over.append(name)
                    self.targets.append(target)
                    self._configs[name] = source_config
                    self.ledger.declare(
                        name,
                        plugin(target.kind).families,
                        int(source_config.max_series_per_family),
                    )
                    self.windows.declare(name, source_config.count_from)
                else:
                    self._add_target(target, source_config)
                self._schedule(target)
            self.config = config
            self.metrics.config_loaded(True, self._clock())
            restarted = {t.name for t in changed}
            summary = {
                "added": ",".join(n for n in names if n in built and n not in restarted),
                "removed": ",".join(t.name for t in removed),
                "restarted": ",".join(t.name for t in changed),
                "handed_over": ",".join(handed_over),
                "unchanged": ",".join(kept),
            }
            log.info("config reloaded", extra={k: v or "-" for k, v in summary.items()})
            await self.refresh()
            return True, "config reloaded"

    async def _hand_over(self, target: Target) -> None:
        """The target's series change (group_by, bucket width, ...): every open bucket of its
        counter streams is settled at the value last read and each cursor moves to the next
        boundary of the new width, so the new series start there and nothing is counted twice."""
        try:
            async with asyncio.timeout(10):
                streams = await target.source.streams()
        except (TimeoutError, UpstreamError):
            streams = []
        widths = {s.name: s.width for s in streams if s.width > 0}
        self.ledger.hand_over(target.name, widths)
        self.ledger.save_settings(target.name, target.settings)
        target.hand_over = False
        log.info(
            "series settings changed: streams handed over at the next bucket boundary",
            extra={"target": target.name},
        )

    async def _stop(self, target: Target) -> None:
        """Unschedule the target, cancel its poll in flight (which commits nothing) and close
        its client."""
        if self._scheduler is not None:
            for job in (target.name, resources_job(target.name)):
                with contextlib.suppress(Exception):
                    self._scheduler.remove_job(job)
        for job in (target.name, resources_job(target.name)):
            task = self._polling.get(job)
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.windows.forget(target.name)
        await target.upstream.aclose()

    def _schedule(self, target: Target, first: dt.datetime | None = None) -> None:
        if self._scheduler is None:
            return
        first = first or dt.datetime.now(dt.UTC)
        self._scheduler.add_job(
            self.poll,
            "interval",
            args=[target],
            id=target.name,
            replace_existing=True,
            seconds=target.interval,
            jitter=min(target.interval * 0.1, 30.0),
            next_run_time=first + dt.timedelta(seconds=random.uniform(0, 0.5)),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(target.interval)),
        )
        # resources (names, limits): a job of their own, so they never delay a usage poll;
        # it ticks often and reads each resource only when its own interval has passed
        tick = min(target.interval, RESOURCE_TICK)
        self._scheduler.add_job(
            self.poll_resources,
            "interval",
            args=[target],
            id=resources_job(target.name),
            replace_existing=True,
            seconds=tick,
            next_run_time=first + dt.timedelta(seconds=random.uniform(0, 0.5)),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(tick)),
        )

    def render(self) -> None:
        """Re-render the exposition from the ledger and self-metrics, and swap it in."""
        self.state.exposition = self._render()
        self.state.changed()

    def _render(self) -> Exposition:
        families = [fs for target in self.targets for fs in self.ledger.samples(target.name)]
        exposition = self._renderer.render(families, self.metrics.registry)
        del families
        release_free_memory()
        return exposition

    async def refresh(self, *, publish: bool = True) -> None:
        """`render` in a worker thread, one at a time: at 100k series rendering takes about a
        second, and scrapes keep being answered from the previous bytes meanwhile. The ledger's
        published series are never changed in place, so reading them off the loop is safe.
        `publish=False`: the caller changes more and calls `state.changed()` itself."""
        async with self._render_lock:
            self.state.exposition = await asyncio.to_thread(without_gc(self._render))
        if publish:
            self.state.changed()

    async def poll(self, target: Target) -> bool:
        """Read every stream of `target`, commit, update self-metrics, re-render."""
        task = asyncio.current_task()
        if task is not None:
            self._polling[target.name] = task
        try:
            return await self._poll(target)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.info("poll cancelled: shutting down", extra={"target": target.name})
            return False
        finally:
            if self._polling.get(target.name) is task:
                del self._polling[target.name]

    async def _poll(self, target: Target) -> bool:
        """A pending hand-over first, then read, commit and report."""
        if target.hand_over and not await self._hand_over_first(target):
            return False
        started = time.monotonic()
        now = int(self._clock())
        polled = await self._read_streams(target, now)
        stats = await self._commit(target, now, polled)
        return await self._report(target, polled, stats, time.monotonic() - started)

    async def _hand_over_first(self, target: Target) -> bool:
        """The series settings changed while the exporter was stopped: hand the streams over
        before anything is read. False (a failed poll) when that cannot be saved: counting on
        without it would count twice."""
        try:
            await self._hand_over(target)
        except LedgerError as err:
            log.warning("poll failed", extra={"target": target.name, "error": str(err)})
            return False
        return True

    async def _read_streams(self, target: Target, now: int) -> PollReads:
        """List the target's streams and read each one by the poll's deadline, concurrently and
        on its own: the ones read in time are committed even when another one runs out of time
        (resource streams have their own job, `poll_resources`)."""
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
            *(self._read(target, stream, now, deadline) for stream in streams),
            return_exceptions=True,
        )
        for stream, result in zip(streams, results, strict=True):
            if isinstance(result, StreamRead):
                polled.reads.append((stream, result))
            elif isinstance(result, asyncio.CancelledError):
                raise result
            else:
                text = _describe(stream.name, result)
                polled.failed(text, failure(stream.name, result, text))
        return polled

    async def _read(self, target: Target, stream: Stream, now: int, deadline: float) -> StreamRead:
        """Read one stream by the deadline, in the window the planner gives, and tell the
        planner how it went: a window too long for one poll (a long first backfill, a long
        outage) is read in shorter ones, so the cursor always moves forward."""
        cursor = self.ledger.cursor(target.name, stream.name)
        window = self.windows.window(target.name, stream, now, cursor)
        if stream.width > 0 and window.end <= window.start:
            # handed over (a reload changed the series): nothing to read before the boundary
            return StreamRead(stream.name, window.start, window.start)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout_at(deadline):
                read = await target.source.read(stream, window)
        except TimeoutError:
            self.windows.timed_out(target.name, stream, window)
            raise TimeoutError(
                f"timed out after {target.timeout:g}s reading {window.end - window.start}s;"
                " the next poll reads half of that"
            ) from None
        self.windows.read_whole(
            target.name, stream, window, now, used=loop.time() - started, budget=deadline - started
        )
        return read

    async def _commit(self, target: Target, now: int, polled: PollReads) -> CommitStats | None:
        """Save the streams read whole in one ledger transaction; None when it could not be
        saved (the poll's error: the cursors did not move, the next poll reads it again). A poll
        that read every stream also drops the gauges of the streams no longer listed."""
        if polled.usage_streams and not polled.errors:
            try:
                self._forget_vanished(target, {s.name for s in polled.listed})
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
            self._count_commit(target, polled, stats)
        ok = not polled.errors
        watermark = self.ledger.watermark(target.name)
        self.metrics.poll_finished(
            target.name,
            target.kind,
            ok,
            duration,
            self._clock(),
            float(watermark) if watermark is not None else None,
        )
        # Render first: /readyz must not say ready before /metrics shows this poll.
        await self.refresh(publish=False)
        status = self.state.targets[target.name]
        status.polled = True
        status.up = ok
        status.last_error = "; ".join(polled.errors)[:1000]
        if ok:
            status.last_success = self._clock()
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

    def _count_commit(self, target: Target, polled: PollReads, stats: CommitStats) -> None:
        """The self-metrics a commit moves: revisions, series, schema drift, contradictions."""
        self.metrics.revisions(target.name, target.kind, stats.revisions_up, stats.revisions_down)
        self.metrics.series(target.name, target.kind, stats.series, stats.overflowed)
        unknown = sum(read.unknown_fields for _, read in polled.reads)
        if unknown:
            self.metrics.unknown_fields(target.name, target.kind, unknown)
        inconsistent = sum(read.inconsistencies for _, read in polled.reads)
        if inconsistent:
            self.metrics.inconsistencies(target.name, target.kind, inconsistent)

    def _forget_vanished(self, target: Target, current: set[str]) -> None:
        """Streams the source no longer lists lose their gauges (`Ledger.forget_levels`)."""
        for name in target.streams - current:
            log.info("stream vanished", extra={"target": target.name, "stream": name})
            self.ledger.forget_levels(target.name, name)
        target.streams = current

    async def poll_resources(self, target: Target, *, force: bool = False) -> None:
        """Read the target's resource streams that are due (all with `force`), commit the
        ones read, re-render. A failed read keeps the resource's last levels and is retried
        after the target's interval; `Unavailable` turns the resource off (one log line). The
        target's up and its usage streams are not touched."""
        task = asyncio.current_task()
        key = resources_job(target.name)
        if task is not None:
            self._polling[key] = task
        try:
            await self._poll_resources(target, force)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.info("resources read cancelled: shutting down", extra={"target": target.name})
        finally:
            if self._polling.get(key) is task:
                del self._polling[key]

    async def _poll_resources(self, target: Target, force: bool) -> None:
        try:
            async with asyncio.timeout(target.timeout):
                listed = list(await target.source.streams())
        except (TimeoutError, UpstreamError) as err:
            text = str(err) or f"timed out after {target.timeout:g}s"
            self.problems.report(
                "resources not listed",
                target.name,
                [failure("", err, text)],
                quiet=target.interval / 2,
            )
            return
        now = self._clock()
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
                results.append(await self._read_resource(target, stream))
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
                self.metrics.resource_off(target.name, target.kind, resource)
                try:
                    self.ledger.forget_levels(target.name, stream.name)
                except LedgerError as err:
                    log.warning("state not saved", extra={"target": target.name, "error": str(err)})
            else:
                target.resource_due[stream.name] = now + min(stream.every, target.interval)
                outcome[resource] = False
                text = _describe(stream.name, result)
                failures.append(failure(stream.name, result, text))
        if failures:
            self.problems.report(
                "resource read failed, last values kept",
                target.name,
                failures,
                quiet=target.interval / 2,
            )
        if reads:
            try:
                stats = await asyncio.to_thread(
                    without_gc(self.ledger.commit), target.name, int(now), reads
                )
            except LedgerError as err:
                log.warning("state not saved", extra={"target": target.name, "error": str(err)})
                outcome.update({s.name.rpartition("/")[2]: False for s, _ in reads})
            else:
                self.metrics.series(target.name, target.kind, stats.series, stats.overflowed)
        for resource, ok in outcome.items():
            self.metrics.resource_read(target.name, target.kind, resource, ok, self._clock())
        changed = bool(reads) or any(target.resource_ok.get(r) != ok for r, ok in outcome.items())
        target.resource_ok.update(outcome)
        if changed or len(outcome) < len(due):  # read, newly failing, or turned off
            await self.refresh()

    async def _read_resource(self, target: Target, stream: Stream) -> StreamRead:
        """One resource read; it runs in its own job, so it may take longer than a usage
        poll's `timeout` (listing every project's keys one call at a time) without delaying one."""
        now = int(self._clock())
        limit = max(target.timeout, RESOURCE_TIMEOUT)
        try:
            async with asyncio.timeout(limit):
                return await target.source.read(stream, Window(now, now))
        except TimeoutError:
            raise TimeoutError(f"timed out after {limit:g}s") from None

    async def poll_all(self) -> bool:
        """Poll every target once, and read its resources that are due (all on the first call;
        their failures do not count)."""
        with self.problems.held("poll failed"):
            results = await asyncio.gather(
                *(self.poll(t) for t in self.targets),
                *(self.poll_resources(t) for t in self.targets),
            )
        return all(r for r in results if r is not None)

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
        process that runs the daemon starts and stops the scheduler (`exporter.process`)."""
        self._scheduler = scheduler
        first = dt.datetime.now(dt.UTC)
        for target in self.targets:
            self._schedule(target, first)


RESOURCE_TICK = 30.0  # seconds between checks for due resources (at most the target's interval)
RESOURCE_TIMEOUT = 120.0  # the least time a resource read is given (its target's timeout if more)


def resources_job(target: str) -> str:
    """The scheduler job (and poll key) of a target's resources; target names have no `/`."""
    return f"{target}/resources"


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Hand the heap that a poll's answers and the previous rendering freed back to the
    system (glibc keeps it otherwise): about 60 MB at 100k series (bench/RESULTS.md)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _describe(stream: str, error: BaseException) -> str:
    if isinstance(error, UpstreamError):
        return str(error)
    log.debug("stream read raised", exc_info=error)
    return f"{stream}: {type(error).__name__}: {str(error)[:200]}"
