"""The HTTP listener: `/metrics` from pre-rendered bytes, `/healthz`, `/readyz` and `/`.

It never calls an upstream and never renders: the daemon swaps a new `Exposition` into the state
after each poll, and a scrape copies the bytes that match its headers. Every text shown on `/`
is HTML-escaped (target names and errors may carry upstream text).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import socket
import ssl
import time
from collections.abc import Generator, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from exporter.exposition.served import (
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    negotiate,
    plain_slices,
)
from exporter.focus.columns import MonthError
from exporter.focus.writers import FORMATS, FormatUnavailable, chunks
from exporter.http.state import ServerState
from exporter.ledger import LedgerError


class SlicedResponse(Response):
    """Sends its body in slices and waits for each to drain (uvicorn's flow control): a client
    that reads slowly holds one slice in the write buffer, not a copy of the whole exposition
    (16 concurrent scrapes of 100k series otherwise buffered up to 16 x 10-20 MB). The slices
    are the body's, or with `inflate` the plain bytes of the gzip body, inflated one slice at a
    time (`Content-Length` is then `size`)."""

    SLICE = 256 * 1024

    def __init__(
        self,
        body: bytes,
        *,
        media_type: str,
        headers: dict[str, str],
        inflate: bool = False,
        size: int = 0,
    ) -> None:
        super().__init__(body, media_type=media_type, headers=headers)
        self.inflate = inflate
        if inflate:
            self.headers["content-length"] = str(size)

    def slices(self) -> Iterator[bytes]:
        if self.inflate:
            return plain_slices(bytes(self.body), self.SLICE)
        view = memoryview(self.body)
        return (bytes(view[at : at + self.SLICE]) for at in range(0, len(view), self.SLICE))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        slices = iter(()) if scope.get("method") == "HEAD" else self.slices()
        piece, ended = next(slices, None), False
        while piece is not None:
            following = next(slices, None)
            ended = following is None
            await send({"type": "http.response.body", "body": piece, "more_body": not ended})
            if not ended:
                await asyncio.sleep(0)  # let a lost connection be noticed before writing on
            piece = following
        if not ended:
            await send({"type": "http.response.body", "body": b""})


def _month_text(start: int) -> str:
    return time.strftime("%Y-%m", time.gmtime(start))


def create_app(state: ServerState) -> Starlette:
    async def metrics(request: Request) -> Response:
        exposition = state.exposition
        if exposition is None:
            return PlainTextResponse("no data rendered yet\n", status_code=503)
        openmetrics, use_gzip = negotiate(
            request.headers.get("accept"), request.headers.get("accept-encoding")
        )
        if openmetrics:
            body, size = exposition.openmetrics_gzip, exposition.openmetrics_size
            media = CONTENT_TYPE_OPENMETRICS
        else:
            body, size = exposition.text_gzip, exposition.text_size
            media = CONTENT_TYPE_TEXT
        headers = {"Vary": "Accept, Accept-Encoding"}
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        return SlicedResponse(
            body, media_type=media, headers=headers, inflate=not use_gzip, size=size
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        waiting = sorted(t.name for t in state.targets.values() if not t.polled)
        shard = f" ({state.shard_text()}, {len(state.targets)} targets)"
        if not waiting:
            return PlainTextResponse(f"ready{shard}\n")
        return PlainTextResponse(
            f"not polled yet{shard}: " + ", ".join(waiting) + "\n", status_code=503
        )

    async def index(request: Request) -> Response:
        rows = []
        for t in state.targets.values():
            last = (
                time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t.last_success))
                if t.last_success
                else "never"
            )
            status = "up" if t.up else ("down" if t.polled else "pending")
            cells = (t.name, t.source, status, last, t.last_error)
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>usage-exporter</title>"
            "</head><body><h1>usage-exporter</h1><p><a href='/metrics'>/metrics</a> · "
            "<a href='/healthz'>/healthz</a> · <a href='/readyz'>/readyz</a></p>"
            f"<p>{state.shard_text()}: {len(state.targets)} targets</p>"
            "<table border='1' cellpadding='4'><tr><th>target</th><th>source</th>"
            "<th>state</th><th>last success</th><th>last error</th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )
        return HTMLResponse(page)

    async def reload(request: Request) -> Response:
        assert state.reload is not None
        ok, message = await state.reload()
        if ok:
            return PlainTextResponse(f"{message}\n")
        return PlainTextResponse(f"failed to reload config: {message}\n", status_code=500)

    async def focus(request: Request) -> Response:
        """A month's FOCUS dataset, streamed from the state file (read-only) in a worker
        thread; 400 for a malformed month, 404 for one not begun, 410 for one past retention."""
        export = state.focus
        if export is None:
            return PlainTextResponse("no FOCUS export here\n", status_code=404)
        fmt = str(request.path_params["format"])
        if fmt not in FORMATS:
            return PlainTextResponse("format must be csv or parquet\n", status_code=404)
        try:
            dataset = export.dataset(request.query_params.get("month", ""))
            body = await asyncio.to_thread(chunks, dataset, fmt)  # opens the file
        except MonthError as err:
            return PlainTextResponse(f"{err}\n", status_code=err.status)
        except FormatUnavailable as err:
            return PlainTextResponse(f"{err}\n", status_code=501)
        except LedgerError as err:
            return PlainTextResponse(f"cannot read the cost history: {err}\n", status_code=503)
        month = _month_text(dataset.month)
        name = f"focus-1.2-cost-and-usage-{month}.{fmt}"
        return StreamingResponse(
            body,
            media_type=FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    routes = [
        Route("/metrics", metrics, methods=["GET", "HEAD"]),
        Route("/focus/v1.2/cost-and-usage.{format}", focus, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/", index, methods=["GET", "HEAD"]),
    ]
    if state.reload is not None:  # --web.enable-lifecycle; without it /-/reload is a 404
        routes.append(Route("/-/reload", reload, methods=["POST", "PUT"]))
    return Starlette(routes=routes)


class Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to the daemon (it owns the shutdown order).

    `task` runs `serve()`; stop with `should_exit = True`, then await `task`.
    """

    task: asyncio.Task[None]

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class SlowClientGuard(H11Protocol):
    """uvicorn's h11 protocol with a deadline for a whole request: a client that connects (or
    gets its response on a kept-alive connection) and has not sent a complete request within
    the keep-alive timeout is disconnected. uvicorn alone only times out idle kept-alive
    connections, so clients trickling a request in could hold every connection slot."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.timeout_keep_alive, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.transport.close()


async def serve(
    app: Starlette,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Listener:
    """Start serving `app`; returns once listening. Stop: `should_exit = True`, await `.task`.
    OSError, naming the address and the cause, when it cannot listen."""
    if port:  # uvicorn says why in a log line and exits the process: say it here instead
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            socket.create_server((host, port), family=family).close()
        except OSError as err:
            raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        http=SlowClientGuard,
        timeout_keep_alive=5,
        limit_concurrency=256,
        lifespan="off",
    )
    config.load()
    config.ssl = ssl_context  # uvicorn hands it to create_server as it is
    server = Listener(config)

    async def serving() -> None:
        try:
            await server.serve()
        except SystemExit as stop:  # uvicorn's way to fail a start: an error, not an exit
            raise OSError(f"the listener stopped (uvicorn exit {stop.code})") from None

    task = asyncio.create_task(serving())
    server.task = task
    for _ in range(500):
        if server.started:
            return server
        if task.done():
            error = task.exception()
            raise OSError(f"cannot listen on {host}:{port}: {error or 'server exited'}")
        await asyncio.sleep(0.01)
    raise OSError(f"cannot listen on {host}:{port}: not started within 5 s")
