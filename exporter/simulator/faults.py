"""Faults the simulator injects on request: each queued fault is consumed by one matching call."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

KINDS = ("status", "delay", "truncate", "malformed", "reset", "drift", "page_error")


@dataclass
class Fault:
    kind: str
    upstream: str = "openai"
    path_contains: str = ""
    count: int = 1
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0

    @classmethod
    def parse(cls, raw: dict[str, Any], upstream: str) -> Fault:
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
        return cls(
            kind=kind,
            upstream=str(raw.get("upstream", upstream)),
            path_contains=str(raw.get("path_contains", "")),
            count=int(raw.get("count", 1)),
            status=int(raw.get("status", 500)),
            retry_after=raw.get("retry_after"),
            seconds=float(raw.get("seconds", 0)),
        )


@dataclass
class FaultQueue:
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)

    def add(self, raw: list[dict[str, Any]], upstream: str) -> None:
        self.faults.extend(Fault.parse(f, upstream) for f in raw)

    def admit(
        self, upstream: str, request: Request, who: str | Response
    ) -> tuple[str, Fault | None] | Response:
        """A call the upstream rejects (auth, unknown bucket) is counted and answered as it is;
        an admitted one (`who`: the org, engine or account) may meet a queued fault."""
        if isinstance(who, Response):
            self.requests[request.url.path] += 1
            return who
        return who, self.take(upstream, request)

    def take(self, upstream: str, request: Request) -> Fault | None:
        path = request.url.path
        self.requests[path] += 1
        for fault in self.faults:
            if fault.upstream != upstream or fault.path_contains not in path:
                continue
            if fault.kind == "page_error" and "page" not in request.query_params:
                continue
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            self.injected[fault.kind] += 1
            return fault
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "faults_injected": dict(self.injected),
            "pending": len(self.faults),
        }


def _drift(value: Any) -> Any:
    """Unknown fields everywhere, amounts as strings: what a drifting schema looks like."""
    if isinstance(value, dict):
        out = {k: _drift(v) for k, v in value.items()}
        if out.get("object") in ("bucket",) or str(out.get("object", "")).endswith(".result"):
            out["x_added_in_a_future_version"] = {"nested": True}
        if "currency" in out and isinstance(out.get("value"), float):
            out["value"] = repr(out["value"])
        return out
    if isinstance(value, list):
        return [_drift(v) for v in value]
    return value


async def apply(
    fault: Fault | None, error_body: dict[str, Any], answer: Callable[[], Awaitable[Any]]
) -> Response:
    """The response for a call: the fault's, or `answer()` serialised as JSON."""
    if fault is None:
        return JSONResponse(await answer())
    if fault.kind == "delay":
        await asyncio.sleep(fault.seconds)
        return JSONResponse(await answer())
    if fault.kind in ("status", "page_error"):
        status = fault.status if fault.kind == "status" else 500
        headers = {}
        if status == 429 and fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        return JSONResponse(error_body, status_code=status, headers=headers)
    body = json.dumps(await answer()).encode()
    if fault.kind == "truncate":
        return Response(body[: len(body) // 2], media_type="application/json")
    if fault.kind == "malformed":
        return Response(b'{"object": "page", "data": [,]}', media_type="application/json")
    if fault.kind == "drift":
        return JSONResponse(_drift(json.loads(body)))

    async def broken() -> AsyncIterator[bytes]:  # reset: start the body, then drop the connection
        yield body[: len(body) // 2]
        raise ConnectionResetError("simulated reset mid-body")

    return StreamingResponse(broken(), media_type="application/json")
