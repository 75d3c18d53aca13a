"""The sixth vendor's source: one hourly stream of call counts."""

from __future__ import annotations

from collections.abc import Sequence

from exporter.model import Family, Flow, Kind, Stream, StreamRead, Window
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.values import quantity
from tests.sixth_vendor.config import TallyConfig

HOUR = 3600
FAMILIES = (Family("tally_calls_total", Kind.COUNTER, "Calls counted by the tally API."),)


class TallySource:
    def __init__(self, config: TallyConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream

    async def streams(self) -> Sequence[Stream]:
        return (Stream("usage", HOUR, lookback=2 * HOUR, backfill=int(self._config.backfill)),)

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        params = [("start", str(window.start)), ("end", str(window.end))]
        body = await self._upstream.get_json("usage", "/tally/v1/usage", params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise UpstreamError("usage", "expected an object with a `data` list")
        flows = [
            Flow(
                "tally_calls_total",
                (),
                int(row["start"]),
                int(row["start"]) + HOUR,
                quantity(row.get("calls"), "usage", "calls"),
            )
            for row in body["data"]
        ]
        return StreamRead(stream.name, window.start, window.end, flows)
