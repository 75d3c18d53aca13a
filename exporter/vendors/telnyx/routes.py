"""The Telnyx twin's routes: bucket API and storage usage, the S3 bucket list per region, and
`/_sim/telnyx/truth` (ground truth)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted, with_headers
from exporter.vendors.telnyx import twin

_TELNYX_ERROR = {
    "errors": [
        {
            "code": "10011",
            "title": "Too many requests",
            "detail": "You have exceeded the maximum number of allowed requests.",
        }
    ]
}


def mount(frame: Frame) -> Mounted:
    faults, now, start = frame.faults, frame.now, frame.start
    usage = twin.TelnyxUsage(frame.seed, start, frame.late_seconds)

    def reviser(who: str, request: Request, up: bool, rng: Any) -> bool:
        return usage.revise(who, request.path_params["bucket"], up, now(), rng)

    def account_of(request: Request) -> str | Response:
        header = request.headers.get("authorization", "")
        account = frame.keys.get(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or account is None:
            return twin.envelope(
                401, "10009", "Authentication failed", "The API key was not recognised."
            )
        bucket = request.path_params["bucket"]
        if bucket not in twin.BUCKETS:
            return twin.envelope(404, "10005", "Resource not found", "Bucket not found")
        return str(account)

    async def api(request: Request) -> Response:
        admitted = faults.admit("telnyx", request, account_of(request))
        if isinstance(admitted, Response):
            return admitted
        account, fault = admitted
        t = now()
        bounds = twin.parse_filter(request)
        if isinstance(bounds, Response):
            return bounds

        async def answer() -> Any:
            return twin.api_usage(
                usage, account, request.path_params["bucket"], bounds[0], bounds[1], t
            )

        response = await faults.respond(fault, _TELNYX_ERROR, answer, shape=twin.SHAPE, now=t)
        return with_headers(response, twin.rate_limit_headers())

    async def storage(request: Request) -> Response:
        admitted = faults.admit("telnyx", request, account_of(request))
        if isinstance(admitted, Response):
            return admitted
        account, fault = admitted
        t = now()

        async def answer() -> Any:
            return twin.storage_usage(usage, account, request.path_params["bucket"], t)

        response = await faults.respond(fault, _TELNYX_ERROR, answer, shape=twin.SHAPE, now=t)
        return with_headers(response, twin.rate_limit_headers())

    async def list_buckets(request: Request) -> Response:
        account = twin.s3_account(request, frame.keys)
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
            xml = twin.list_buckets_xml(request.path_params["region"])
            return Response(xml, media_type="application/xml")

        return await faults.respond(fault, "<Error><Code>SlowDown</Code></Error>", answer)

    async def truth(request: Request) -> Response:
        q = request.query_params
        t = now()
        body = usage.truth(q.get("account", ""), q.get("bucket", ""), int(q.get("start", start)), t)
        return JSONResponse({"now": t, **body})

    routes = [
        Route("/v2/storage/buckets/{bucket}/usage/api", api),
        Route("/v2/storage/buckets/{bucket}/usage/storage", storage),
        Route("/s3/{region}/", list_buckets),
        Route("/_sim/telnyx/truth", truth),
    ]
    return Mounted(routes=list(routes), revisions=usage.revisions, reviser=reviser)
