"""The Telnyx twin's routes: bucket API and storage usage, the S3 bucket list per region, and
`/_sim/telnyx/truth` (ground truth)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.twin import Frame, Mounted, admitted, with_headers
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

    async def usage_call(
        request: Request, prepare: Callable[[str, int], Response | Callable[[], Any]]
    ) -> Response:
        """A call of the bucket usage API: admitted, then `prepare(account, now)` gives its
        answer (a Response is an error sent as it is), or the fault it meets replaces it."""
        call = admitted(frame, "telnyx", request, account_of(request))
        if isinstance(call, Response):
            return call
        account, fault, t = call
        prepared = prepare(account, t)
        if isinstance(prepared, Response):
            return prepared

        async def answer() -> Any:
            return prepared()

        response = await faults.respond(fault, _TELNYX_ERROR, answer, shape=twin.SHAPE, now=t)
        return with_headers(response, twin.rate_limit_headers())

    async def api(request: Request) -> Response:
        bucket = request.path_params["bucket"]

        def prepare(account: str, t: int) -> Response | Callable[[], Any]:
            bounds = twin.parse_filter(request)
            if isinstance(bounds, Response):
                return bounds
            return lambda: twin.api_usage(usage, account, bucket, bounds[0], bounds[1], t)

        return await usage_call(request, prepare)

    async def storage(request: Request) -> Response:
        bucket = request.path_params["bucket"]

        def prepare(account: str, t: int) -> Callable[[], Any]:
            return lambda: twin.storage_usage(usage, account, bucket, t)

        return await usage_call(request, prepare)

    async def list_buckets(request: Request) -> Response:
        account = twin.s3_account(request, frame.keys)
        denied = Response(
            "<Error><Code>AccessDenied</Code></Error>",
            status_code=403,
            media_type="application/xml",
        )
        who = denied if account is None else account
        call = admitted(frame, "telnyx-s3", request, who, json_answer=False)
        if isinstance(call, Response):
            return call
        _, fault, _ = call

        async def answer() -> Response:
            xml = twin.list_buckets_xml(request.path_params["region"])
            return Response(xml, media_type="application/xml")

        return await faults.respond(fault, "<Error><Code>SlowDown</Code></Error>", answer)

    async def truth(request: Request) -> Response:  # the ground truth
        q = request.query_params
        t = now()
        body = usage.ground_truth(
            q.get("account", ""), q.get("bucket", ""), int(q.get("start", start)), t
        )
        return JSONResponse({"now": t, **body})

    routes = [
        Route("/v2/storage/buckets/{bucket}/usage/api", api),
        Route("/v2/storage/buckets/{bucket}/usage/storage", storage),
        Route("/s3/{region}/", list_buckets),
        Route("/_sim/telnyx/truth", truth),
    ]
    return Mounted(routes=list(routes), revisions=usage.revisions, reviser=reviser)
