"""`--web.listener-process` (the default): the HTTP listener in a process of its own, so no
scrape waits on a poll. This module is the daemon's side of it and the snapshots' encoding; the
listener process itself is `listener_main.py`.

In one process the fold and the rendering of a poll run in worker threads but hold the GIL, and
every turn of the event loop that serves a scrape waits for it (bench/RESULTS.md, round two:
p99 262 ms at 100k series during polls). Here the daemon's process polls, commits and renders;
after each change it sends a snapshot of the server state (the rendered bytes and the targets'
status as JSON: nothing is unpickled) down a pipe, and a second process, which holds no ledger
and no secret, answers every request from the last snapshot it received. The pipe is written
and read in threads that release the GIL for the copy, and a snapshot not yet sent is replaced
by a newer one.

`/-/reload` (with `--web.enable-lifecycle`) is asked of the daemon's process over a control
pipe and answered with its outcome. The listener process exits when the daemon's process closes
the pipes or dies; the daemon's process stops (exit 1) when the listener process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from exporter.exposition.served import Exposition
from exporter.focus.export import FocusExport
from exporter.http.state import ServerState, TargetStatus

READY_TIMEOUT = 60.0  # seconds for the listener process to import, bind and say so
RELOAD_SNAPSHOT_WAIT = 10.0  # seconds a reload's answer waits for the snapshot that shows it


class ListenerProcessError(Exception):
    """The listener process could not start (its message says why) or died."""


VARIANTS = ("text_gzip", "openmetrics_gzip")


def encode(state: ServerState, sequence: int = 0) -> list[bytes]:
    """A snapshot as pipe messages: a JSON header (status, shard, series and plain sizes, its
    number in the order published), then the exposition's two gzip variants, when there is one."""
    exposition = state.exposition
    header = {
        "sequence": sequence,
        "targets": [asdict(t) for t in state.targets.values()],
        "shard": list(state.shard),
        "series": None,
    }
    if exposition is not None:
        header["series"] = exposition.series
        header["sizes"] = [exposition.text_size, exposition.openmetrics_size]
    variants = [getattr(exposition, v) for v in VARIANTS] if exposition is not None else []
    return [json.dumps(header).encode(), *variants]


Snapshot = tuple[Exposition | None, dict[str, TargetStatus], tuple[int, int]]


def receive(data: Connection) -> Snapshot:
    """`encode` undone, read off the pipe (the GIL is released while it fills each message):
    (exposition, targets' status, shard)."""
    return receive_numbered(data)[1]


def receive_numbered(data: Connection) -> tuple[int, Snapshot]:
    """`receive`, with the snapshot's number in the order it was published."""
    fields = json.loads(data.recv_bytes())
    sequence = int(fields.get("sequence", 0))
    targets = {t["name"]: TargetStatus(**t) for t in fields["targets"]}
    shard = (int(fields["shard"][0]), int(fields["shard"][1]))
    if fields["series"] is None:
        return sequence, (None, targets, shard)
    text_gzip, openmetrics_gzip = (data.recv_bytes() for _ in VARIANTS)
    text_size, openmetrics_size = (int(size) for size in fields["sizes"])
    exposition = Exposition(
        text_gzip, openmetrics_gzip, text_size, openmetrics_size, int(fields["series"])
    )
    return sequence, (exposition, targets, shard)


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    listen: str
    web_config: Path | None
    lifecycle: bool
    log_level: str
    log_format: str
    # the FOCUS datasets, read here from the state file (read-only, no secret in it)
    focus: FocusExport | None = None


class ListenerProcess:
    """The daemon's side: starts the listener process, publishes snapshots, answers reloads."""

    def __init__(self, settings: ListenerSettings) -> None:
        self.settings = settings
        self._child_data, self._data_send = multiprocessing.Pipe(duplex=False)  # (recv, send)
        self._control, self._child_control = multiprocessing.Pipe()
        self._process: subprocess.Popen[bytes] | None = None
        self._ended = -1  # the read end of a pipe that the listener process holds the other end of
        self._pending: list[bytes] | None = None
        self._published = 0  # snapshots published, numbered in order
        self._wake = threading.Condition()
        self._closed = False
        self._sender = threading.Thread(target=self._send_loop, name="snapshot-sender", daemon=True)
        self.address = ""
        self.died = False  # set by whoever saw the listener process exit while serving

    async def start(
        self, state: ServerState, reload: Callable[[], Awaitable[tuple[bool, str]]] | None
    ) -> None:
        """Start the listener process with `state` as its first snapshot (it listens only once
        it has one: never a 503 that one process would not give) and wait until it listens;
        ListenerProcessError if it cannot."""
        self._spawn()
        self._child_control.close()  # the child's ends: closed here, so its death is EOF
        self._child_data.close()
        self._sender.start()
        self.publish(state)
        try:
            answer = await asyncio.to_thread(self._receive_ready)
        except (EOFError, OSError) as err:
            raise ListenerProcessError("the listener process exited before listening") from err
        if answer[0] != "ready":
            raise ListenerProcessError(str(answer[1]))
        self.address = str(answer[1])
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=self._control_loop, args=(loop, reload), name="listener-control", daemon=True
        ).start()

    def _spawn(self) -> None:
        """Start `python -m exporter.http.listener_main` (not a fork of a threaded process) with
        the child's ends of the pipes, the parent's import path, and its settings as the first
        message on the control pipe. Unlike a `multiprocessing` spawn it neither re-imports the
        daemon's main module nor needs a resource tracker process: the listener imports only what
        it serves with (bench/RESULTS.md, round three: its RSS)."""
        ended, alive = os.pipe()  # `alive` is held by the child only: EOF here when it ends
        fds = (self._child_data.fileno(), self._child_control.fileno(), alive)
        path = os.pathsep.join(os.path.abspath(p) for p in sys.path)  # "": the working directory
        env = {**os.environ, "PYTHONPATH": path}
        main = ("-P", "-m", "exporter.http.listener_main")  # -P: that path only, no directory added
        try:
            self._process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
                [sys.executable, *main, *map(str, fds)],
                stdin=subprocess.DEVNULL,
                pass_fds=fds,
                env=env,
            )
        finally:
            os.close(alive)
        self._ended = ended
        self._control.send(self.settings)

    def _receive_ready(self) -> tuple[str, Any]:
        if not self._control.poll(READY_TIMEOUT):
            raise ListenerProcessError(f"the listener process did not listen in {READY_TIMEOUT:g}s")
        answer: tuple[str, Any] = self._control.recv()
        return answer

    def publish(self, state: ServerState) -> None:
        """Queue a snapshot of `state`; one not yet sent is replaced (only the newest matters)."""
        with self._wake:
            self._published += 1
            messages = encode(state, self._published)
            self._pending = messages
            self._wake.notify()

    def _send_loop(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                messages, self._pending = self._pending, None
            assert messages is not None
            try:
                for message in messages:  # one sender: the messages of a snapshot stay together
                    self._data_send.send_bytes(message)  # the GIL is released while it writes
            except OSError:
                return  # the listener is gone: its sentinel says so

    def _control_loop(
        self,
        loop: asyncio.AbstractEventLoop,
        reload: Callable[[], Awaitable[tuple[bool, str]]] | None,
    ) -> None:
        """Answer the listener's reload requests with the daemon's outcome, one at a time."""
        while True:
            try:
                request = self._control.recv()
            except (EOFError, OSError):
                return
            if request != "reload":
                continue
            if reload is None:
                outcome: tuple[bool, str] = (False, "lifecycle API is not enabled")
            else:
                try:
                    outcome = asyncio.run_coroutine_threadsafe(_awaited(reload), loop).result()
                except Exception as err:  # the daemon's error, answered, not a dead thread
                    outcome = (False, f"reload failed: {type(err).__name__}")
            with self._wake:
                published = self._published  # the reload's own changes are in this snapshot
            try:
                self._control.send((*outcome, published))
            except OSError:
                return

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable when the listener process ends."""
        return self._ended

    @property
    def exitcode(self) -> int | None:
        """The listener process's exit status (-N: killed by signal N); None while it runs."""
        return None if self._process is None else self._process.poll()

    def close(self, timeout: float = 5.0) -> None:
        """Close the pipes (the listener exits on their end) and wait for it; kill if it won't."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        for end in (self._data_send, self._control):
            with contextlib.suppress(OSError):
                end.close()
        if self._process is None:
            return
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout)
        if self._ended >= 0:
            os.close(self._ended)
            self._ended = -1


async def _awaited(
    call: Callable[[], Awaitable[tuple[bool, str]]],
) -> tuple[bool, str]:
    return await call()
