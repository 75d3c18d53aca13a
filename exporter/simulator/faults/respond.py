"""The answer to a call that met a fault: an error status, a delay, a cut or broken body, a
body that is not JSON, or the twin's JSON rewritten (`rewrite.py`)."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from exporter.simulator.faults.kinds import REVISIONS, Fault
from exporter.simulator.faults.rewrite import drift, rewrite
from exporter.simulator.twin import Shape

_MALFORMED = {
    "syntax": b'{"object": "page", "data": [,]}',
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "empty": b"",
}


class Responder:
    """How a call that met a fault is answered. `FaultInjector` is one: a fault that finds
    nothing to change is counted in its `without_effect` (by label), and rewrites draw from its
    `rng`."""

    without_effect: Counter[str]
    rng: random.Random

    async def respond(
        self,
        fault: Fault | None,
        error_body: dict[str, Any] | str,
        answer: Callable[[], Awaitable[Any]],
        *,
        shape: Shape | None = None,
        now: int = 0,
        when: int | None = None,
    ) -> Response:
        """The response for a call: the fault's, or `answer()` (JSON data, or a ready Response).

        `error_body`: the upstream's error envelope (a string: XML); `shape` describes the
        upstream's JSON for body faults; `now` is the simulator's time and `when` the time a
        record without its own time belongs to.
        """
        if fault is None or fault.kind in REVISIONS:
            return _render(await answer())
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return _render(await answer())
        if fault.kind in ("status", "page_error"):
            status = fault.status if fault.kind == "status" else 500
            headers = {}
            if status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            if isinstance(error_body, str):
                return Response(error_body, status, headers, media_type="application/xml")
            return JSONResponse(error_body, status_code=status, headers=headers)
        data = await answer()
        if isinstance(data, Response):
            body, media_type = bytes(data.body), data.media_type
        else:
            body, media_type = json.dumps(data).encode(), "application/json"
        if fault.kind == "truncate":
            return Response(body[: len(body) // 2], media_type=media_type)
        if fault.kind == "malformed":
            return Response(_MALFORMED[fault.variant or "syntax"], media_type=media_type)
        if fault.kind == "reset":

            async def broken() -> AsyncIterator[bytes]:  # start the body, drop the connection
                yield body[: len(body) // 2]
                raise ConnectionResetError("simulated reset mid-body")

            return StreamingResponse(broken(), media_type=media_type)
        if isinstance(data, Response):  # a body fault on an answer that is not JSON
            fault.effect = False
            self.without_effect[fault.label] += 1
            return data
        data = json.loads(body)  # a copy to rewrite
        if fault.kind == "drift":
            return JSONResponse(drift(data))
        fault.effect = rewrite(data, fault, shape or Shape(frozenset(), ()), now, when, self.rng)
        if not fault.effect:
            self.without_effect[fault.label] += 1
        return JSONResponse(data)


def _render(data: Any) -> Response:
    return data if isinstance(data, Response) else JSONResponse(data)
