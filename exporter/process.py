"""The running process of `usage-exporter run` and `demo`: serve a daemon's /metrics, poll on
schedule, reload on SIGHUP, and stop on SIGTERM or SIGINT with nothing half-committed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exporter.daemon import Daemon
from exporter.server import create_app, parse_listen_address, serve
from exporter.webconfig import BasicAuth, WebConfigFile

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL while another waits (Python's default is 0.005)."""


def favour_the_event_loop() -> None:
    """The commit and the rendering run in worker threads, mostly in Python; every turn of the
    event loop that serves a scrape waits for the GIL up to the switch interval while they run.
    A shorter interval hands the loop the interpreter sooner (bench/RESULTS.md, table 1c)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


async def serve_until_stopped(
    daemon: Daemon,
    listen: str,
    web: WebConfigFile | None = None,
    *,
    config_path: Path | None = None,
    enable_lifecycle: bool = False,
) -> None:
    """Listen, poll each target on schedule, and run until SIGTERM or SIGINT; SIGHUP (and
    POST /-/reload with `enable_lifecycle`) reloads `config_path`. Closes the daemon."""
    host, port = parse_listen_address(listen)
    if config_path is not None and enable_lifecycle:
        daemon.state.reload = lambda: daemon.reload(config_path)
    app: Any = create_app(daemon.state)
    if web is not None and web.basic_auth_users:
        app = BasicAuth(app, web.basic_auth_users)
    server = await serve(app, host, port, ssl_context=web.ssl_context() if web else None)
    bound = port
    with contextlib.suppress(AttributeError, IndexError):
        bound = server.servers[0].sockets[0].getsockname()[1]
    log.info("listening", extra={"address": f"{host}:{bound}", "targets": len(daemon.targets)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    _handle_signals(loop, daemon, stop, config_path)
    scheduler = AsyncIOScheduler(event_loop=loop, timezone=dt.UTC)
    daemon.start(scheduler)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        scheduler.shutdown(wait=False)  # cancels polls in flight: nothing half-committed
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.task, timeout=5)
        await daemon.aclose()


def _handle_signals(
    loop: asyncio.AbstractEventLoop, daemon: Daemon, stop: asyncio.Event, config_path: Path | None
) -> None:
    """SIGTERM and SIGINT set `stop`; SIGHUP reloads `config_path` (when there is one)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if config_path is not None:
        reloads: set[asyncio.Task[Any]] = set()  # held: a task nobody holds may be collected

        def hangup() -> None:
            task = asyncio.ensure_future(daemon.reload(config_path))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, hangup)
