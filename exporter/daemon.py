"""The daemon: one scheduled poll per target, the ledger commit, and the snapshot swap.

A poll reads every stream of a target concurrently, commits what was read in one ledger
transaction, updates the self-metrics and re-renders the exposition. A failed stream changes
nothing (its buckets are re-read next time); a cancelled poll (shutdown, timeout) changes nothing.
A scrape never waits on a poll: it is served from the last rendered bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import datetime as dt
import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exporter import __version__
from exporter.exposition import Exposition, render
from exporter.ledger import Ledger, LedgerError, fixed_origin
from exporter.model import Source, Stream, StreamRead, align_down, align_up
from exporter.selfmetrics import SelfMetrics
from exporter.server import ServerState, TargetStatus, create_app, parse_listen_address, serve
from exporter.sharding import Shard
from exporter.sources import KINDS
from exporter.upstream import Upstream, UpstreamError, UpstreamSettings
from exporter.webconfig import BasicAuth, WebConfigFile, load_web_config

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


def secret_of(config: Any) -> str:
    """The source's credential (from `api_key` or `api_key_file`), for the Authorization header."""
    key = getattr(config, "api_key", None)
    if key is not None:
        return str(key.get_secret_value())
    path = getattr(config, "api_key_file", None)
    if path is not None:
        return Path(path).read_text(encoding="utf-8").strip()
    return ""


class Daemon:
    """Owns the ledger, the self-metrics, the targets and the server state."""

    def __init__(
        self,
        config: Any,
        *,
        clock: Callable[[], float] = time.time,
        transport: Any = None,
        shard: Shard | None = None,
    ) -> None:
        self._clock = clock
        self.shard = shard or Shard()
        state_dir = Path(config.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(state_dir / LEDGER_FILE)
        self.metrics = SelfMetrics(__version__)
        self.metrics.shard(self.shard.index, self.shard.total)
        self.state = ServerState(shard=(self.shard.index, self.shard.total))
        self._render_lock = asyncio.Lock()
        # (target, stream) -> the longest window to ask for, after a read ran out of time
        self._spans: dict[tuple[str, str], int] = {}
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
        for source_config in owned:
            kind = KINDS[source_config.kind]
            secret = secret_of(source_config)
            base_url = str(source_config.base_url or kind.default_base_url)
            settings = UpstreamSettings(
                target=source_config.name,
                source=kind.kind,
                base_url=base_url,
                headers={"Authorization": f"Bearer {secret}", **kind.extra_headers(source_config)},
                secret=secret,
                timeout=float(source_config.timeout),
                retries=int(source_config.retries),
                max_concurrency=int(source_config.max_concurrency),
                max_body_bytes=int(source_config.max_body_bytes),
                max_retry_after=float(source_config.timeout) / 2,
                rate_limit_header=kind.rate_limit_header,
            )
            upstream = Upstream(settings, self.metrics, transport=transport)
            target = Target(
                name=source_config.name,
                kind=kind.kind,
                interval=float(source_config.interval),
                timeout=float(source_config.timeout),
                source=kind.build(source_config, upstream),
                upstream=upstream,
            )
            self.targets.append(target)
            count_from = getattr(source_config, "count_from", None)
            self.ledger.declare(
                target.name, kind.families, int(source_config.max_series_per_family), count_from
            )
            if count_from is not None:
                self._check_origins(target.name, int(count_from))
            self.metrics.register_target(target.name, target.kind)
            self.state.targets[target.name] = TargetStatus(
                name=target.name,
                source=target.kind,
                up=False,
                polled=False,
                last_success=None,
                last_error="",
            )
        self.render()

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

    def render(self) -> None:
        """Re-render the exposition from the ledger and self-metrics, and swap it in."""
        self.state.exposition = self._render()

    def _render(self) -> Exposition:
        families = [fs for target in self.targets for fs in self.ledger.samples(target.name)]
        exposition = render(families, self.metrics.registry)
        del families
        release_free_memory()
        return exposition

    async def refresh(self) -> None:
        """`render` in a worker thread, one at a time: at 100k series rendering takes about a
        second, and scrapes keep being answered from the previous bytes meanwhile. The ledger's
        published series are never changed in place, so reading them off the loop is safe."""
        async with self._render_lock:
            self.state.exposition = await asyncio.to_thread(self._render)

    async def poll(self, target: Target) -> bool:
        """Read every stream of `target`, commit, update self-metrics, re-render."""
        started = time.monotonic()
        now = int(self._clock())
        errors: list[str] = []
        reads: list[tuple[Stream, StreamRead]] = []
        deadline = asyncio.get_running_loop().time() + target.timeout
        streams: list[Stream] = []
        try:
            async with asyncio.timeout_at(deadline):
                streams = list(await target.source.streams())
        except TimeoutError:
            errors.append(f"poll timed out after {target.timeout:g}s")
        except UpstreamError as err:  # stream discovery failed
            errors.append(str(err))
        # Each stream under the poll's deadline: the ones read in time are committed even when
        # another one runs out of time.
        results = await asyncio.gather(
            *(self._read(target, stream, now, deadline) for stream in streams),
            return_exceptions=True,
        )
        for stream, result in zip(streams, results, strict=True):
            if isinstance(result, StreamRead):
                reads.append((stream, result))
            elif isinstance(result, asyncio.CancelledError):
                raise result
            else:
                errors.append(_describe(stream.name, result))
        if streams and not errors:
            try:
                self._forget_vanished(target, {s.name for s in streams})
            except LedgerError as err:
                errors.append(f"state not saved: {err}")
        try:
            stats = self.ledger.commit(target.name, now, reads)
        except LedgerError as err:
            errors.append(f"state not saved: {err}")
        else:
            self.metrics.revisions(
                target.name, target.kind, stats.revisions_up, stats.revisions_down
            )
            self.metrics.series(target.name, target.kind, stats.series, stats.overflowed)
            unknown = sum(read.unknown_fields for _, read in reads)
            if unknown:
                self.metrics.unknown_fields(target.name, target.kind, unknown)
            inconsistent = sum(read.inconsistencies for _, read in reads)
            if inconsistent:
                self.metrics.inconsistencies(target.name, target.kind, inconsistent)
        ok = not errors
        duration = time.monotonic() - started
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
        await self.refresh()
        status = self.state.targets[target.name]
        status.polled = True
        status.up = ok
        status.last_error = "; ".join(errors)[:1000]
        if ok:
            status.last_success = self._clock()
            log.info(
                "poll finished",
                extra={
                    "target": target.name,
                    "streams": len(reads),
                    "duration": round(duration, 3),
                },
            )
        else:
            for error in errors:
                log.warning("poll failed", extra={"target": target.name, "error": error})
        return ok

    async def _read(self, target: Target, stream: Stream, now: int, deadline: float) -> StreamRead:
        """Read one stream by the deadline. A window too long to read in one poll (a long
        first backfill, a long outage) is halved for the next poll, and grows back after each
        success, so the cursor always moves forward."""
        key = (target.name, stream.name)
        window = self.ledger.window(target.name, stream, now, self._spans.get(key))
        try:
            async with asyncio.timeout_at(deadline):
                read = await target.source.read(stream, window)
        except TimeoutError:
            if stream.width > 0:
                self._spans[key] = align_down((window.end - window.start) // 2, stream.width)
            raise TimeoutError(
                f"timed out after {target.timeout:g}s reading {window.end - window.start}s;"
                " the next poll reads half of that"
            ) from None
        if key in self._spans:
            if window.end >= align_up(now + 1, stream.width):
                del self._spans[key]  # caught up
            else:
                self._spans[key] *= 2
        return read

    def _forget_vanished(self, target: Target, current: set[str]) -> None:
        for name in target.streams - current:
            log.info("stream vanished", extra={"target": target.name, "stream": name})
            self.ledger.forget_levels(target.name, name)
        target.streams = current

    async def poll_all(self) -> bool:
        results = await asyncio.gather(*(self.poll(t) for t in self.targets))
        return all(results)

    async def aclose(self) -> None:
        for target in self.targets:
            await target.upstream.aclose()
        self.ledger.close()

    async def serve_forever(
        self,
        listen: str,
        web: WebConfigFile | None = None,
    ) -> None:
        """Listen, schedule one job per target, and run until SIGTERM or SIGINT."""
        host, port = parse_listen_address(listen)
        app: Any = create_app(self.state)
        if web is not None and web.basic_auth_users:
            app = BasicAuth(app, web.basic_auth_users)
        server = await serve(app, host, port, ssl_context=web.ssl_context() if web else None)
        bound = port
        with contextlib.suppress(AttributeError, IndexError):
            bound = server.servers[0].sockets[0].getsockname()[1]
        log.info("listening", extra={"address": f"{host}:{bound}", "targets": len(self.targets)})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=dt.UTC)
        first = dt.datetime.now(dt.UTC)
        for target in self.targets:
            scheduler.add_job(
                self.poll,
                "interval",
                args=[target],
                id=target.name,
                seconds=target.interval,
                jitter=min(target.interval * 0.1, 30.0),
                next_run_time=first + dt.timedelta(seconds=random.uniform(0, 0.5)),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(target.interval)),
            )
        scheduler.start()
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            scheduler.shutdown(wait=False)  # cancels polls in flight: nothing half-committed
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.task, timeout=5)
            await self.aclose()


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


def run(config: Any, listen: str, web_config: Path | None, shard: Shard | None = None) -> int:
    """`usage-exporter run`: poll and serve until a signal."""
    web = load_web_config(web_config) if web_config is not None else None
    return asyncio.run(_run(config, listen, web, shard))


async def _run(
    config: Any, listen: str, web: WebConfigFile | None, shard: Shard | None = None
) -> int:
    daemon = Daemon(config, shard=shard)
    await daemon.serve_forever(listen, web)
    return 0


def once(config: Any, shard: Shard | None = None) -> int:
    """`usage-exporter once`: poll every target (of the shard) once, print the exposition, 1 if
    any failed."""

    async def main() -> int:
        daemon = Daemon(config, shard=shard)
        try:
            ok = await daemon.poll_all()
            exposition = daemon.state.exposition
            assert exposition is not None
            sys.stdout.write(exposition.text.decode("utf-8"))
            return 0 if ok else 1
        finally:
            await daemon.aclose()

    return asyncio.run(main())


def demo(listen: str, state_dir: Path | None) -> int:
    """`usage-exporter demo`: the simulator on loopback and the exporter against it."""
    from exporter.demo import run_demo

    return asyncio.run(run_demo(listen, state_dir))
