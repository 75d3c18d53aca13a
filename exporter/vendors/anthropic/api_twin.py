"""What every route of the Anthropic twin does alike: the error envelope, a refused query, RFC
3339 times and cents as the API writes them, and one call's course through the simulator's
faults (`serve`), for the legacy reports (`routes.py`) and the Analytics API's
(`analytics_routes.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.simulator.faults import Fault
from exporter.simulator.twin import Frame, Shape

RATE_LIMITED = "Number of requests has exceeded your rate limit"

# How to answer an admitted call: its data, made when the simulator's faults let it through.
Answer = Callable[[], Awaitable[Any]]
# (organization, the simulator's time) -> the answer to make, or a refusal the API sends instead
Prepare = Callable[[str, int], Answer | Response]


class BadRequest(Exception):
    """A query the API refuses with 400 `invalid_request_error` (the message says why)."""


def error(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Anthropic's error envelope."""
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}},
        status_code=status,
        headers=dict(headers or {}),
    )


def parse_time(text: str, name: str) -> int:
    """An RFC 3339 query parameter as unix seconds; BadRequest without a time zone."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: must carry a time zone (RFC 3339)")
    return int(moment.timestamp())


def rfc3339(t: int) -> str:
    """A bucket bound as the API writes it (UTC, whole seconds, `Z`)."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cents(value: Decimal) -> str:
    """A cents amount as the API writes it: a plain decimal string (no exponent)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def fault_body(fault: Fault | None) -> dict[str, Any]:
    """The error the API sends for a simulated failure (429: its rate-limit error)."""
    kind, message = ("api_error", "simulated failure")
    if fault is not None and fault.status == 429:
        kind, message = ("rate_limit_error", RATE_LIMITED)
    return {"type": "error", "error": {"type": kind, "message": message}}


async def serve(
    frame: Frame, request: Request, who: str | Response, shape: Shape, prepare: Prepare
) -> Response:
    """One call of a report: refused as `who` says (auth), else admitted by the frame's faults,
    its query checked by `prepare` at the simulator's time (a BadRequest is a 400), and
    answered, or failed as the fault drawn for it says."""
    admitted = frame.faults.admit("anthropic", request, who)
    if isinstance(admitted, Response):
        return admitted
    org, fault = admitted
    t = frame.now()
    try:
        answer = prepare(org, t)
    except BadRequest as err:
        return error(400, "invalid_request_error", str(err))
    if isinstance(answer, Response):
        return answer
    return await frame.faults.respond(fault, fault_body(fault), answer, shape=shape, now=t)
