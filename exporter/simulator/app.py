"""The simulator's HTTP frame: the upstreams' routes, the clock, faults and ground truth.

Control endpoints live under `/_sim/` (no auth: the simulator listens on loopback only):
`/_sim/clock` (GET, POST freeze/unfreeze), `/_sim/faults` (POST to queue, DELETE to clear),
`/_sim/chaos` (GET; POST `{"rate", "seed", ...}` to draw random faults on every call, DELETE to
stop), `/_sim/revisions/restore` (POST: give back what down revisions took, as late usage),
`/_sim/stats` (calls, faults injected by kind, variant and upstream, revisions),
`/_sim/requests` (GET: the last requests to the upstreams' routes, method, path and raw query,
oldest first, at most `REQUEST_LOG_SIZE`; DELETE to clear), `/_sim/<upstream>/truth`, and for
names and limits `/_sim/openai/admin` (simulator/openai_admin.py) and `/_sim/arthur/tasks`
(simulator/arthur_tasks.py): GET the ground truth, POST an action (rename, archive, refuse, ...).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter.server import Listener
from exporter.server import serve as serve_app
from exporter.simulator import anylayer, arthur, arthur_tasks, openai, openai_admin, telnyx
from exporter.simulator.clock import Clock
from exporter.simulator.faults import FaultQueue

REQUEST_LOG_SIZE = 20_000


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
    openai_keys: dict[str, str] = field(default_factory=lambda: {"sk-admin-demo": "org-demo"})
    start: float | None = None
    late_seconds: int = 180
    arthur_keys: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"arthur-demo-key": ("engine-demo", "ORG-AUDITOR")}
    )  # key -> (engine, role)
    telnyx_keys: dict[str, str] = field(default_factory=lambda: {"KEYDEMO-telnyx": "acct-demo"})
    anylayer_keys: dict[str, str] = field(default_factory=lambda: {"zk_prod_demo1234": "acct-demo"})
    max_page_buckets: int | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    chaos: dict[str, Any] | None = None  # as POSTed to /_sim/chaos


def create_app(config: SimulatorConfig) -> Starlette:
    clock = Clock()
    faults = FaultQueue()
    faults.add(config.faults, "openai")
    if config.chaos is not None:
        faults.start_chaos(config.chaos)
    start = int(config.start if config.start is not None else time.time() - 60 * 86400)
    usage = openai.OpenAIUsage(config.seed, start, config.late_seconds)
    arthur_usage = arthur.ArthurUsage(config.seed, start, config.late_seconds)
    telnyx_usage = telnyx.TelnyxUsage(config.seed, start, config.late_seconds)
    anylayer_usage = anylayer.AnylayerUsage(config.seed, start, config.late_seconds)
    minute_calls: dict[int, int] = {}
    admin = openai_admin.AdminState()
    tasks = arthur_tasks.TaskState()
    requests: collections.deque[dict[str, str]] = collections.deque(maxlen=REQUEST_LOG_SIZE)
    endpoint_of = {path: name for name, path in openai.iter_paths()}
    upstreams = {
        "openai": usage.revisions,
        "arthur": arthur_usage.revisions,
        "telnyx": telnyx_usage.revisions,
        "anylayer": anylayer_usage.revisions,
    }

    def now() -> int:
        return int(clock.now())

    faults.revisers = {
        "openai": lambda who, request, up, rng: usage.revise(
            who, endpoint_of.get(request.url.path, ""), up, now(), rng
        ),
        "arthur": lambda who, request, up, rng: arthur_usage.revise(who, up, now(), rng),
        "telnyx": lambda who, request, up, rng: telnyx_usage.revise(
            who, request.path_params["bucket"], up, now(), rng
        ),
        "anylayer": lambda who, request, up, rng: anylayer_usage.revise(
            who, request.query_params.get("keyId"), up, now(), rng
        ),
    }

    def openai_route(spec: openai.EndpointSpec) -> Any:
        async def handler(request: Request) -> Response:
            admitted = faults.admit(
                "openai", request, openai.authorize(request, config.openai_keys)
            )
            if isinstance(admitted, Response):
                return admitted
            org, fault = admitted
            t = now()
            try:
                query = openai.parse_query(request, spec, t)
            except openai.BadRequest as err:
                return openai.error(400, str(err), "invalid_request_error", err.param)

            async def answer() -> Any:
                return openai.page_body(usage, org, spec, query, t, config.max_page_buckets)

            body = {
                "error": {
                    "message": "simulated failure",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            if fault is not None and fault.status == 429:
                body["error"]["message"] = "Rate limit reached for requests"
            return await faults.respond(fault, body, answer, shape=openai.SHAPE, now=t)

        return handler

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
            faults.add(list(data.get("faults", [])), str(data.get("upstream", "openai")))
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
        restored = {name: revisions.restore(t) for name, revisions in upstreams.items()}
        return JSONResponse({"now": t, "restored": restored})

    async def stats_route(request: Request) -> Response:
        revisions = {name: r.stats() for name, r in upstreams.items()}
        return JSONResponse({**faults.stats(), "revisions": revisions})

    async def requests_route(request: Request) -> Response:
        if request.method == "DELETE":
            requests.clear()
        return JSONResponse({"requests": list(requests), "capacity": REQUEST_LOG_SIZE})

    async def openai_truth(request: Request) -> Response:
        q = request.query_params
        endpoint = q.get("endpoint", "")
        if endpoint not in openai.ENDPOINTS:
            return JSONResponse({"error": f"unknown endpoint {endpoint!r}"}, status_code=400)
        spec = openai.ENDPOINTS[endpoint]
        filters = {
            n: set(openai._list_param(request, n))
            for n in spec.filters
            if openai._list_param(request, n)
        }
        t = now()
        rows = openai.truth(
            usage,
            q.get("org", ""),
            endpoint,
            int(q.get("start", start)),
            t,
            openai._list_param(request, "group_by"),
            filters,
        )
        return JSONResponse({"now": t, "rows": rows})

    async def arthur_tokens(request: Request) -> Response:
        admitted = faults.admit("arthur", request, arthur.authorize(request, config.arthur_keys))
        if isinstance(admitted, Response):
            return admitted
        engine, fault = admitted
        t = now()
        parsed = arthur.handle_query(request, t)
        if isinstance(parsed, Response):
            return parsed
        begin, end, group_by = parsed

        async def answer() -> Any:
            return arthur.answer(arthur_usage, engine, begin, end, t, group_by)

        error = {"detail": "simulated failure"}
        return await faults.respond(fault, error, answer, shape=arthur.SHAPE, now=t, when=begin)

    async def arthur_truth(request: Request) -> Response:
        q = request.query_params
        t = now()
        rows = arthur.truth(
            arthur_usage,
            q.get("engine", ""),
            int(q.get("start", start)),
            t,
            q.getlist("group_by") or ["rule_type"],
        )
        return JSONResponse({"now": t, "rows": rows})

    def telnyx_account(request: Request) -> str | Response:
        header = request.headers.get("authorization", "")
        account = config.telnyx_keys.get(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or account is None:
            return telnyx.envelope(
                401, "10009", "Authentication failed", "The API key was not recognised."
            )
        bucket = request.path_params["bucket"]
        if bucket not in telnyx.BUCKETS:
            return telnyx.envelope(404, "10005", "Resource not found", "Bucket not found")
        return account

    async def telnyx_api(request: Request) -> Response:
        admitted = faults.admit("telnyx", request, telnyx_account(request))
        if isinstance(admitted, Response):
            return admitted
        account, fault = admitted
        t = now()
        bounds = telnyx.parse_filter(request)
        if isinstance(bounds, Response):
            return bounds

        async def answer() -> Any:
            return telnyx.api_usage(
                telnyx_usage, account, request.path_params["bucket"], bounds[0], bounds[1], t
            )

        response = await faults.respond(fault, _TELNYX_ERROR, answer, shape=telnyx.SHAPE, now=t)
        return _with(response, telnyx.rate_limit_headers())

    async def telnyx_storage(request: Request) -> Response:
        admitted = faults.admit("telnyx", request, telnyx_account(request))
        if isinstance(admitted, Response):
            return admitted
        account, fault = admitted
        t = now()

        async def answer() -> Any:
            return telnyx.storage_usage(telnyx_usage, account, request.path_params["bucket"], t)

        response = await faults.respond(fault, _TELNYX_ERROR, answer, shape=telnyx.SHAPE, now=t)
        return _with(response, telnyx.rate_limit_headers())

    async def telnyx_list_buckets(request: Request) -> Response:
        account = telnyx.s3_account(request, config.telnyx_keys)
        denied = Response(
            "<Error><Code>AccessDenied</Code></Error>",
            status_code=403,
            media_type="application/xml",
        )
        admitted = faults.admit(
            "telnyx-s3", request, denied if account is None else account, json_answer=False
        )
        if isinstance(admitted, Response):
            return admitted
        _, fault = admitted

        async def answer() -> Response:
            xml = telnyx.list_buckets_xml(request.path_params["region"])
            return Response(xml, media_type="application/xml")

        return await faults.respond(fault, "<Error><Code>SlowDown</Code></Error>", answer)

    async def telnyx_truth(request: Request) -> Response:
        q = request.query_params
        t = now()
        body = telnyx_usage.truth(
            q.get("account", ""), q.get("bucket", ""), int(q.get("start", start)), t
        )
        return JSONResponse({"now": t, **body})

    async def anylayer_usage_route(request: Request) -> Response:
        admitted = faults.admit(
            "anylayer", request, anylayer.authorize(request, config.anylayer_keys)
        )
        if isinstance(admitted, Response):
            return admitted
        account, fault = admitted
        t = now()
        minute = t - t % 60
        minute_calls[minute] = minute_calls.get(minute, 0) + 1
        result = anylayer.answer(anylayer_usage, account, request, t)
        if isinstance(result, Response):
            return result

        async def answer() -> Any:
            return result

        error = anylayer.error_body("RATE_LIMIT_EXCEEDED", "Too many requests")
        if fault is not None and fault.status != 429:
            error = anylayer.error_body("INTERNAL_ERROR", "simulated failure")
        response = await faults.respond(fault, error, answer, shape=anylayer.SHAPE, now=t)
        return _with(response, anylayer.rate_limit_headers(t, minute_calls[minute]))

    async def anylayer_truth(request: Request) -> Response:
        q = request.query_params
        t = now()
        key = q.get("key")
        keys = (key,) if key else anylayer.KEYS
        values = anylayer_usage.truth(q.get("account", ""), keys, int(q.get("start", start)), t)
        return JSONResponse({"now": t, "values": values})

    routes = [
        Route(path, openai_route(openai.ENDPOINTS[name])) for name, path in openai.iter_paths()
    ]

    def admin_route(resource: str) -> Any:
        async def handler(request: Request) -> Response:
            return openai_admin.handle(admin, config.openai_keys, request, resource)

        return handler

    async def admin_control(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(admin.org(request.query_params.get("org", "")).truth())
        try:
            return JSONResponse(admin.control(dict(await request.json())))
        except (KeyError, ValueError, TypeError) as err:
            return JSONResponse({"error": f"{type(err).__name__}: {err}"}, status_code=400)

    async def tasks_search(request: Request) -> Response:
        return await arthur_tasks.search(tasks, config.arthur_keys, request)

    async def tasks_control(request: Request) -> Response:
        if request.method == "GET":
            engine = tasks.engine(request.query_params.get("engine", ""))
            return JSONResponse(tasks.truth(engine))
        try:
            return JSONResponse(tasks.control(dict(await request.json())))
        except (KeyError, ValueError, TypeError) as err:
            return JSONResponse({"error": f"{type(err).__name__}: {err}"}, status_code=400)

    routes += [Route(path, admin_route(resource)) for path, resource in openai_admin.ROUTES]
    routes += [
        Route("/_sim/openai/admin", admin_control, methods=["GET", "POST"]),
        Route("/api/v2/tasks/search", tasks_search, methods=["POST"]),
        Route("/_sim/arthur/tasks", tasks_control, methods=["GET", "POST"]),
    ]
    routes += [
        Route("/_sim/clock", clock_route, methods=["GET", "POST"]),
        Route("/_sim/faults", faults_route, methods=["POST", "DELETE"]),
        Route("/_sim/chaos", chaos_route, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/revisions/restore", restore_route, methods=["POST"]),
        Route("/_sim/stats", stats_route),
        Route("/_sim/requests", requests_route, methods=["GET", "DELETE"]),
        Route("/_sim/openai/truth", openai_truth),
        Route("/api/v2/usage/tokens", arthur_tokens),
        Route("/_sim/arthur/truth", arthur_truth),
        Route("/v2/storage/buckets/{bucket}/usage/api", telnyx_api),
        Route("/v2/storage/buckets/{bucket}/usage/storage", telnyx_storage),
        Route("/s3/{region}/", telnyx_list_buckets),
        Route("/_sim/telnyx/truth", telnyx_truth),
        Route("/v1/developer/usage", anylayer_usage_route),
        Route("/api/v1/developer/usage", anylayer_usage_route),
        Route("/_sim/anylayer/truth", anylayer_truth),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestLog, log=requests)])


_TELNYX_ERROR = {
    "errors": [
        {
            "code": "10011",
            "title": "Too many requests",
            "detail": "You have exceeded the maximum number of allowed requests.",
        }
    ]
}


def _with(response: Response, headers: dict[str, str]) -> Response:
    response.headers.update(headers)
    return response


async def serve(
    config: SimulatorConfig, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> Listener:
    return await serve_app(create_app(config), host, port, ssl_context=ssl_context)


def run_forever(
    config: SimulatorConfig, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> int:
    """Serve until SIGTERM/SIGINT (over TLS with `ssl_context`: the proxy and TLS tests)."""
    import signal

    async def main() -> None:
        server = await serve(config, host, port, ssl_context)
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
