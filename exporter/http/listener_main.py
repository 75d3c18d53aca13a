"""The listener process: `python -m exporter.http.listener_main DATA CONTROL ENDED`, started by
`ListenerProcess` (exporter/http/listener_process.py) with the file descriptors of its ends of
the snapshot pipe and the control pipe, and the write end of a pipe it only holds open (the
daemon's process sees it close when this process ends). The settings are the first message on
the control pipe. Only what serving needs is imported: not the daemon, not its vendors; and
only this process imports the HTTP server (`server.py`), not the daemon's."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from exporter.http.listener_process import (
    RELOAD_SNAPSHOT_WAIT,
    ListenerSettings,
    Snapshot,
    receive_numbered,
)
from exporter.http.server import create_app, serve
from exporter.http.state import ServerState, parse_listen_address
from exporter.runtime.logs import configure_logging
from exporter.runtime.memory import map_large_blocks


def main(argv: list[str]) -> None:
    data = Connection(int(argv[0]), writable=False)
    control = Connection(int(argv[1]))
    settings = control.recv()
    if not isinstance(settings, ListenerSettings):
        raise SystemExit(f"the listener process expected its settings, got {type(settings)}")
    listener_main(data, control, settings)


def listener_main(data: Connection, control: Connection, settings: ListenerSettings) -> None:
    """The listener process: serve the snapshots the daemon's process sends until it stops."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the daemon's process decides when to stop
    map_large_blocks()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(_listen(data, control, settings))


async def _listen(data: Connection, control: Connection, settings: ListenerSettings) -> None:
    loop = asyncio.get_running_loop()
    state = ServerState()
    stop = asyncio.Event()
    asking = asyncio.Lock()

    received = 0  # the number of the snapshot served
    arrived = asyncio.Condition()

    async def reload() -> tuple[bool, str]:
        """Asked of the daemon's process; answered once the snapshot it published by then is
        served, so a scrape after the answer sees the reload's effects (its self-metrics)."""
        async with asking:  # one question on the control pipe at a time
            control.send("reload")
            ok, message, published = await asyncio.to_thread(control.recv)
        async with arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    arrived.wait_for(lambda: received >= published), RELOAD_SNAPSHOT_WAIT
                )
        return bool(ok), str(message)

    if settings.lifecycle:
        state.reload = reload
    state.focus = settings.focus

    try:
        received, first = await asyncio.to_thread(receive_numbered, data)
        state.exposition, state.targets, state.shard = first
        del first  # held here, the first snapshot's bytes would outlive every later one
    except (EOFError, OSError):
        return  # the daemon's process is gone before we began
    try:
        app: Any = create_app(state)
        tls = None
        if settings.web_config is not None:  # imported only then: pydantic, yaml and bcrypt
            from exporter.http.webconfig import BasicAuth, load_web_config

            web = load_web_config(settings.web_config)
            if web.basic_auth_users:
                app = BasicAuth(app, web.basic_auth_users)
            tls = web.ssl_context()
        host, port = parse_listen_address(settings.listen)
        server = await serve(app, host, port, ssl_context=tls)
    except Exception as err:  # said to the daemon's process, which exits with it
        control.send(("error", str(err)))
        return
    bound = port
    with contextlib.suppress(AttributeError, IndexError):
        bound = server.servers[0].sockets[0].getsockname()[1]
    control.send(("ready", f"{host}:{bound}"))

    async def apply(sequence: int, snapshot: Snapshot) -> None:
        nonlocal received
        state.exposition, state.targets, state.shard = snapshot
        async with arrived:
            received = sequence
            arrived.notify_all()

    def receiving() -> None:
        while True:
            try:
                sequence, snapshot = receive_numbered(data)
            except (EOFError, OSError):
                loop.call_soon_threadsafe(stop.set)
                return
            asyncio.run_coroutine_threadsafe(apply(sequence, snapshot), loop)

    threading.Thread(target=receiving, name="snapshot-receiver", daemon=True).start()
    await stop.wait()
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.task, timeout=5)


if __name__ == "__main__":
    main(sys.argv[1:])
