"""The Anylayer twin's routes: "Get Usage" (under both documented prefixes) and
`/_sim/anylayer/truth` (ground truth)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted, admitted, with_headers
from exporter.vendors.anylayer import twin


def mount(frame: Frame) -> Mounted:
    faults, now, start = frame.faults, frame.now, frame.start
    usage = twin.AnylayerUsage(frame.seed, start, frame.late_seconds)
    minute_calls: dict[int, int] = {}

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return usage.revise(who, request.query_params.get("keyId"), up, now(), rng)

    async def usage_route(request: Request) -> Response:
        call = admitted(frame, "anylayer", request, twin.authorize(request, frame.keys))
        if isinstance(call, Response):
            return call
        account, fault, t = call
        minute = t - t % 60
        minute_calls[minute] = minute_calls.get(minute, 0) + 1
        result = twin.answer(usage, account, request, t)
        if isinstance(result, Response):
            return result

        async def answer() -> Any:
            return result

        error = twin.error_body("RATE_LIMIT_EXCEEDED", "Too many requests")
        if fault is not None and fault.status != 429:
            error = twin.error_body("INTERNAL_ERROR", "simulated failure")
        response = await faults.respond(fault, error, answer, shape=twin.SHAPE, now=t)
        return with_headers(response, twin.rate_limit_headers(t, minute_calls[minute]))

    async def truth(request: Request) -> Response:  # the ground truth
        q = request.query_params
        t = now()
        key = q.get("key")
        keys = (key,) if key else twin.KEYS
        values = usage.ground_truth(q.get("account", ""), keys, int(q.get("start", start)), t)
        return JSONResponse({"now": t, "values": values})

    routes = [
        Route("/v1/developer/usage", usage_route),
        Route("/api/v1/developer/usage", usage_route),
        Route("/_sim/anylayer/truth", truth),
    ]
    return Mounted(routes=list(routes), revisions=usage.revisions, reviser=reviser)
