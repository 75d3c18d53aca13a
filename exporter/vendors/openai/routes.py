"""The OpenAI twin's routes: the Usage and Costs API pages, the organization's names and limits,
`/_sim/openai/truth` (ground truth) and `/_sim/openai/admin` (GET the truth, POST an action)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted, admitted
from exporter.vendors.openai import resources_twin
from exporter.vendors.openai.twin.catalogue import ENDPOINTS, EndpointSpec, iter_paths
from exporter.vendors.openai.twin.ground_truth import ground_truth
from exporter.vendors.openai.twin.protocol import (
    SHAPE,
    BadRequest,
    authorize,
    error,
    list_param,
    page_body,
    parse_query,
)
from exporter.vendors.openai.twin.usage import OpenAIUsage


def mount(frame: Frame) -> Mounted:
    faults, now, start = frame.faults, frame.now, frame.start
    usage = OpenAIUsage(frame.seed, start, frame.late_seconds)
    endpoint_of = {path: name for name, path in iter_paths()}

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return usage.revise(who, endpoint_of.get(request.url.path, ""), up, now(), rng)

    def usage_route(spec: EndpointSpec) -> Any:
        async def handler(request: Request) -> Response:
            call = admitted(frame, "openai", request, authorize(request, frame.keys))
            if isinstance(call, Response):
                return call
            org, fault, t = call
            try:
                query = parse_query(request, spec, t)
            except BadRequest as err:
                return error(400, str(err), "invalid_request_error", err.param)

            async def answer() -> Any:
                return page_body(usage, org, spec, query, t, frame.max_page_buckets)

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
            return await faults.respond(fault, body, answer, shape=SHAPE, now=t)

        return handler

    async def truth(request: Request) -> Response:  # the ground truth, by endpoint and group
        q = request.query_params
        endpoint = q.get("endpoint", "")
        if endpoint not in ENDPOINTS:
            return JSONResponse({"error": f"unknown endpoint {endpoint!r}"}, status_code=400)
        spec = ENDPOINTS[endpoint]
        filters = {n: set(values) for n in spec.filters if (values := list_param(request, n))}
        t = now()
        rows = ground_truth(
            usage,
            q.get("org", ""),
            endpoint,
            int(q.get("start", start)),
            t,
            list_param(request, "group_by"),
            filters,
        )
        return JSONResponse({"now": t, "rows": rows})

    routes = [Route(path, usage_route(ENDPOINTS[name])) for name, path in iter_paths()]
    routes += resources_twin.routes(frame.keys)
    routes.append(Route("/_sim/openai/truth", truth))
    return Mounted(routes=list(routes), revisions=usage.revisions, reviser=reviser, drift=True)
