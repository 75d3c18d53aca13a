"""The running process of `usage-exporter run` and `demo`: serve a daemon's /metrics, poll on
schedule, reload on SIGHUP, and stop on SIGTERM or SIGINT with nothing half-committed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from exporter.daemon import Daemon
from exporter.http.listener_process import ListenerProcess, ListenerSettings
from exporter.http.state import parse_listen_address
from exporter.http.webconfig import BasicAuth, WebConfigFile

if TYPE_CHECKING:
    from exporter.http.server import Listener

log = logging.getLogger("exporter.process")  # its name before the move: log lines keep it

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
    listener: ListenerSettings | None = None,
) -> bool:
    """Listen, poll each target on schedule, and run until SIGTERM or SIGINT; SIGHUP (and
    POST /-/reload with `enable_lifecycle`) reloads `config_path`. Closes the daemon.

    With `listener`, the HTTP listener runs in a process of its own
    (exporter/http/listener_process.py; `listen` and `web` are then its settings). False when
    that process died: the caller exits 1. ListenerProcessError when it could not listen."""
    reload = None
    if config_path is not None and enable_lifecycle:
        reload = partial(daemon.reload, config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    server: Listener | None = None
    separate: ListenerProcess | None = None
    if listener is not None:
        separate = ListenerProcess(listener)
        try:
            await separate.start(daemon.state, reload)
        except BaseException:
            separate.close()
            await daemon.aclose()
            raise
        daemon.state.watchers.append(separate.publish)
        address = separate.address
    else:
        # Imported only when this process serves: with the listener process (the default) the
        # daemon's process holds no HTTP server (bench/RESULTS.md, round three: memory).
        from exporter.http.server import create_app, serve

        daemon.state.reload = reload
        host, port = parse_listen_address(listen)
        app: Any = create_app(daemon.state)
        if web is not None and web.basic_auth_users:
            app = BasicAuth(app, web.basic_auth_users)
        server = await serve(app, host, port, ssl_context=web.ssl_context() if web else None)
        bound = port
        with contextlib.suppress(AttributeError, IndexError):
            bound = server.servers[0].sockets[0].getsockname()[1]
        address = f"{host}:{bound}"
    log.info(
        "listening",
        extra={
            "address": address,
            "targets": len(daemon.targets),
            "listener": "own process" if separate else "this process",
        },
    )
    _handle_signals(loop, daemon, stop, config_path)
    scheduler = AsyncIOScheduler(event_loop=loop, timezone=dt.UTC)
    daemon.start(scheduler)
    scheduler.start()
    if separate is not None:  # a daemon nobody can scrape must not run on
        loop.add_reader(separate.sentinel, _listener_died, loop, separate, stop)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        daemon.stopping()
        scheduler.shutdown(wait=False)  # cancels polls in flight: nothing half-committed
        if separate is not None:
            loop.remove_reader(separate.sentinel)
        if server is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.task, timeout=5)
        if separate is not None:
            await asyncio.to_thread(separate.close)
        await daemon.aclose()
    return separate is None or not separate.died


def _listener_died(
    loop: asyncio.AbstractEventLoop, separate: ListenerProcess, stop: asyncio.Event
) -> None:
    loop.remove_reader(separate.sentinel)
    separate.died = True
    log.error("the listener process exited", extra={"exit_code": separate.exitcode})
    stop.set()


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
