"""A source made of parts: a vendor's usage source and its resource readers (names, limits).

Vendor-free: it lists the streams of every part and hands a read to the part that listed the
stream. The daemon sees one source per target, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.model import Source, Stream, StreamRead, Window


class Composite:
    """Streams of every part; a read goes to the part that listed the stream."""

    def __init__(self, *parts: Source) -> None:
        self._parts = parts
        self._owner: dict[str, Source] = {}

    def __repr__(self) -> str:
        return f"Composite({', '.join(map(repr, self._parts))})"

    async def streams(self) -> Sequence[Stream]:
        out: list[Stream] = []
        owner: dict[str, Source] = {}
        for part in self._parts:
            for stream in await part.streams():
                if stream.name in owner:
                    raise ValueError(f"two parts list the stream {stream.name!r}")
                owner[stream.name] = part
                out.append(stream)
        self._owner = owner
        return out

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        if stream.name not in self._owner:
            await self.streams()
        return await self._owner.get(stream.name, self._parts[0]).read(stream, window)
