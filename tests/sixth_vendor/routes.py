"""The sixth vendor's twin: generated calls per hour, and their ground truth."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted
from exporter.simulator.usage import HOUR, Revisions, rate, visible


def mount(frame: Frame) -> Mounted:
    revisions = Revisions(frame.late_seconds)

    def calls(account: str, start: int, end: int, now: int) -> int:
        def per_hour(hour: int) -> int:
            return rate(frame.seed, "tally", account, hour, maximum=40)

        return visible(per_hour, start, end, now, frame.late_seconds)

    def account_of(request: Request) -> str | Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        account = frame.keys.get(key)
        if account is None:
            return JSONResponse({"error": "unknown key"}, status_code=401)
        return str(account)

    async def usage(request: Request) -> Response:
        admitted = frame.faults.admit("tally", request, account_of(request))
        if isinstance(admitted, Response):
            return admitted
        account, fault = admitted
        now = frame.now()
        start = max(int(request.query_params["start"]), frame.start)
        end = min(int(request.query_params["end"]), now)
        hours = range(start - start % HOUR, end, HOUR)

        async def answer() -> Any:
            rows = [
                {"start": h, "calls": calls(account, max(h, start), h + HOUR, now)} for h in hours
            ]
            return {"data": rows}

        return await frame.faults.respond(fault, {"error": "simulated"}, answer, now=now)

    async def truth(request: Request) -> Response:
        q = request.query_params
        now = frame.now()
        start = max(int(q.get("start", frame.start)), frame.start)
        return JSONResponse(
            {"now": now, "calls": calls(q.get("account", ""), start, now + HOUR, now)}
        )

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return False  # no late revisions in this vendor

    routes: list[Any] = [Route("/tally/v1/usage", usage), Route("/_sim/tally/truth", truth)]
    return Mounted(routes=routes, revisions=revisions, reviser=reviser)
