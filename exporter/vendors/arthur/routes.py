"""The Arthur twin's routes: token usage, task search, `/_sim/arthur/truth` (ground truth) and
`/_sim/arthur/tasks` (GET the task names, POST an action)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted, admitted
from exporter.vendors.arthur import resources_twin, twin


def mount(frame: Frame) -> Mounted:
    faults, now, start = frame.faults, frame.now, frame.start
    usage = twin.ArthurUsage(frame.seed, start, frame.late_seconds)

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return usage.revise(who, up, now(), rng)

    async def tokens(request: Request) -> Response:
        call = admitted(frame, "arthur", request, twin.authorize(request, frame.keys))
        if isinstance(call, Response):
            return call
        engine, fault, t = call
        parsed = twin.handle_query(request, t)
        if isinstance(parsed, Response):
            return parsed
        begin, end, group_by = parsed

        async def answer() -> Any:
            return twin.answer(usage, engine, begin, end, t, group_by)

        error = {"detail": "simulated failure"}
        return await faults.respond(fault, error, answer, shape=twin.SHAPE, now=t, when=begin)

    async def truth(request: Request) -> Response:  # the ground truth
        q = request.query_params
        t = now()
        rows = twin.ground_truth(
            usage,
            q.get("engine", ""),
            int(q.get("start", start)),
            t,
            q.getlist("group_by") or ["rule_type"],
        )
        return JSONResponse({"now": t, "rows": rows})

    routes = [
        *resources_twin.routes(frame.keys),
        Route("/api/v2/usage/tokens", tokens),
        Route("/_sim/arthur/truth", truth),
    ]
    return Mounted(routes=list(routes), revisions=usage.revisions, reviser=reviser)


def parse_key(key: str, engine: str) -> tuple[str, Any]:
    """`--arthur-key KEY=ENGINE` or `KEY=ENGINE:ROLE` (default role ORG-AUDITOR)."""
    return key, (engine.partition(":")[0], engine.partition(":")[2] or "ORG-AUDITOR")
