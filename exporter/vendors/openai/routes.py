"""The OpenAI twin's routes: the Usage and Costs API pages, the organization's names and limits,
`/_sim/openai/truth` (ground truth) and `/_sim/openai/admin` (GET the truth, POST an action)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted
from exporter.vendors.openai import resources_twin, twin


def mount(frame: Frame) -> Mounted:
    faults, now, start = frame.faults, frame.now, frame.start
    usage = twin.OpenAIUsage(frame.seed, start, frame.late_seconds)
    endpoint_of = {path: name for name, path in twin.iter_paths()}

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return usage.revise(who, endpoint_of.get(request.url.path, ""), up, now(), rng)

    def usage_route(spec: twin.EndpointSpec) -> Any:
        async def handler(request: Request) -> Response:
            admitted = faults.admit("openai", request, twin.authorize(request, frame.keys))
            if isinstance(admitted, Response):
                return admitted
            org, fault = admitted
            t = now()
            try:
                query = twin.parse_query(request, spec, t)
            except twin.BadRequest as err:
                return twin.error(400, str(err), "invalid_request_error", err.param)

            async def answer() -> Any:
                return twin.page_body(usage, org, spec, query, t, frame.max_page_buckets)

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
            return await faults.respond(fault, body, answer, shape=twin.SHAPE, now=t)

        return handler

    async def truth(request: Request) -> Response:
        q = request.query_params
        endpoint = q.get("endpoint", "")
        if endpoint not in twin.ENDPOINTS:
            return JSONResponse({"error": f"unknown endpoint {endpoint!r}"}, status_code=400)
        spec = twin.ENDPOINTS[endpoint]
        filters = {
            n: set(twin._list_param(request, n))
            for n in spec.filters
            if twin._list_param(request, n)
        }
        t = now()
        rows = twin.truth(
            usage,
            q.get("org", ""),
            endpoint,
            int(q.get("start", start)),
            t,
            twin._list_param(request, "group_by"),
            filters,
        )
        return JSONResponse({"now": t, "rows": rows})

    routes = [Route(path, usage_route(twin.ENDPOINTS[name])) for name, path in twin.iter_paths()]
    routes += resources_twin.routes(frame.keys)
    routes.append(Route("/_sim/openai/truth", truth))
    return Mounted(routes=list(routes), revisions=usage.revisions, reviser=reviser, drift=True)
