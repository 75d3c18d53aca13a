"""The simulator's HTTP frame: the clock, faults, the request log, and each registered vendor's
twin (its routes and ground truth, mounted from exporter/vendors/<kind>/routes.py).

Control endpoints live under `/_sim/` (no auth: the simulator listens on loopback only):
`/_sim/clock` (GET, POST freeze/unfreeze), `/_sim/faults` (POST to queue, DELETE to clear),
`/_sim/chaos` (GET; POST `{"rate", "seed", ...}` to draw random faults on every call, DELETE to
stop), `/_sim/revisions/restore` (POST: give back what down revisions took, as late usage),
`/_sim/stats` (calls, faults injected by kind, variant and upstream, revisions),
`/_sim/requests` (GET: the last requests to the upstreams' routes, method, path and raw query,
oldest first, at most `REQUEST_LOG_SIZE`; DELETE to clear), and each twin's own:
`/_sim/<kind>/truth` and, for names and limits, GET the ground truth, POST an action (rename,
archive, refuse, ...); see the vendor packages.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter.http.server import Listener
from exporter.http.server import serve as serve_app
from exporter.simulator.clock import Clock
from exporter.simulator.faults import FaultInjector
from exporter.simulator.twin import Frame
from exporter.simulator.usage import Revisions
from exporter.vendors import plugins

REQUEST_LOG_SIZE = 20_000

log = logging.getLogger(__name__)


class RequestLog:
    """ASGI middleware that records every request to an upstream route (not `/_sim/`), so tests
    can check what a client asked against the vendors' specs. Bounded: the oldest are dropped."""

    def __init__(self, app: ASGIApp, log: collections.deque[dict[str, str]]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith("/_sim/"):
            self.log.append(
                {
                    "method": str(scope["method"]),
                    "path": str(scope.get("raw_path", b"").decode("latin-1") or scope["path"]),
                    "query": bytes(scope.get("query_string", b"")).decode("latin-1"),
                }
            )
        await self.app(scope, receive, send)


@dataclass
class SimulatorConfig:
    seed: int = 1
    start: float | None = None
    late_seconds: int = 180
    # kind -> the keys its twin accepts (key -> who: org, account, ...); a kind not given
    # accepts its twin's default keys
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_page_buckets: int | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    chaos: dict[str, Any] | None = None  # as POSTed to /_sim/chaos


def create_app(config: SimulatorConfig) -> Starlette:
    clock = Clock()
    faults = FaultInjector()
    faults.add(config.faults, default_kind())
    if config.chaos is not None:
        faults.start_chaos(config.chaos)
    start = int(config.start if config.start is not None else time.time() - 60 * 86400)
    requests: collections.deque[dict[str, str]] = collections.deque(maxlen=REQUEST_LOG_SIZE)

    def now() -> int:
        return int(clock.now())

    routes: list[BaseRoute] = []
    revisions_by_kind: dict[str, Revisions] = {}
    for plugin in plugins():
        keys = config.keys.get(plugin.kind)
        mounted = plugin.twin.mounter()(
            Frame(
                seed=config.seed,
                start=start,
                late_seconds=config.late_seconds,
                max_page_buckets=config.max_page_buckets,
                keys=dict(plugin.twin.default_keys) if keys is None else keys,
                faults=faults,
                now=now,
            )
        )
        routes += mounted.routes
        revisions_by_kind[plugin.kind] = mounted.revisions
        faults.revisers[plugin.kind] = mounted.reviser
        if mounted.drift:
            faults.drifting.add(plugin.kind)

    async def clock_route(request: Request) -> Response:
        if request.method == "POST":
            data = await request.json()
            if data.get("freeze"):
                clock.freeze(data.get("at"))
            else:
                clock.unfreeze()
        return JSONResponse({"now": clock.now(), "frozen": clock.frozen})

    async def faults_route(request: Request) -> Response:
        if request.method == "DELETE":
            faults.faults.clear()
            return JSONResponse({"pending": 0})
        data = await request.json()
        try:
            faults.add(list(data.get("faults", [])), str(data.get("upstream", default_kind())))
        except (ValueError, TypeError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse({"pending": len(faults.faults)})

    async def chaos_route(request: Request) -> Response:
        if request.method == "POST":
            try:
                faults.start_chaos(dict(await request.json()))
            except (ValueError, TypeError) as err:
                return JSONResponse({"error": str(err)}, status_code=400)
        elif request.method == "DELETE":
            faults.chaos = None
        chaos = faults.chaos
        return JSONResponse({"chaos": chaos.describe() if chaos is not None else None})

    async def restore_route(request: Request) -> Response:
        t = now()
        restored = {name: revisions.restore(t) for name, revisions in revisions_by_kind.items()}
        return JSONResponse({"now": t, "restored": restored})

    async def stats_route(request: Request) -> Response:
        revisions = {name: r.stats() for name, r in revisions_by_kind.items()}
        return JSONResponse({**faults.stats(), "revisions": revisions})

    async def requests_route(request: Request) -> Response:
        if request.method == "DELETE":
            requests.clear()
        return JSONResponse({"requests": list(requests), "capacity": REQUEST_LOG_SIZE})

    routes += [
        Route("/_sim/clock", clock_route, methods=["GET", "POST"]),
        Route("/_sim/faults", faults_route, methods=["POST", "DELETE"]),
        Route("/_sim/chaos", chaos_route, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/revisions/restore", restore_route, methods=["POST"]),
        Route("/_sim/stats", stats_route),
        Route("/_sim/requests", requests_route, methods=["GET", "DELETE"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestLog, log=requests)])


def default_kind() -> str:
    """The vendor kind a fault is for when it names none: the first registered one."""
    return plugins()[0].kind


async def serve(
    config: SimulatorConfig, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> Listener:
    return await serve_app(create_app(config), host, port, ssl_context=ssl_context)


def accepted_keys(config: SimulatorConfig) -> str:
    """The keys each twin accepts, for the start line: the built-in demo keys in full (they are
    public), keys given on the command line only counted (the operator knows them)."""
    parts = []
    for plugin in plugins():
        given = config.keys.get(plugin.kind)
        if given is None:
            parts.append(f"{plugin.kind}: {', '.join(plugin.twin.default_keys)}")
        else:
            parts.append(f"{plugin.kind}: {len(given)} from --{plugin.kind}-key")
    return "; ".join(parts)


def run_forever(
    config: SimulatorConfig, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> int:
    """Serve until SIGTERM/SIGINT (over TLS with `ssl_context`: the proxy and TLS tests)."""
    import signal

    async def main() -> None:
        server = await serve(config, host, port, ssl_context)
        scheme = "https" if ssl_context is not None else "http"
        shown = f"[{host}]" if ":" in host else host
        log.info(
            "simulator listening",
            extra={"url": f"{scheme}://{shown}:{port}", "keys": accepted_keys(config)},
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        done = asyncio.ensure_future(stop.wait())
        await asyncio.wait({done, server.task}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await server.task

    asyncio.run(main())
    return 0
