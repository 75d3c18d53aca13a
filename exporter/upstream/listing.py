"""Resources: names and limits a vendor lists, each read as a stream of its own (`Stream.every`,
the source's `resource_interval`), outside the usage polls, so a slow or failing listing never
delays or fails the exact counters.

Vendor-free. A vendor's resource source names its listings and what reads each one
(`ResourceSource`); a read that the upstream refuses for good (403, 404) turns that resource off
(`Unavailable`) and keeps the last names. Most such lists are cursor-paged (`CursorPager`).
Names are exported as info gauges (`info_family`), joined to usage at query time, never pasted
into the counters' labels, so a rename changes one info series and no counter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.model import Family, Kind, Level, Stream, StreamRead, Unavailable, Window
from exporter.upstream.client import Upstream
from exporter.upstream.errors import UpstreamError

PREFIX = "info/"  # a resource stream's name: `info/<resource>` (state files keep these names)
Reader = Callable[[], Awaitable[list[Level]]]


def info_family(name: str, what: str, labels: tuple[str, ...]) -> Family:
    """An info gauge (always 1) of a listed thing: `labels` are its id label, its name label,
    then any others; the help (`what` it is) ends with how to join it to usage."""
    join = f"* on(target, {labels[0]}) group_left({labels[1]}) {name}"
    return Family(name, Kind.GAUGE, f"{what} Join it to usage at query time: `{join}`.", labels)


def text(value: Any) -> str:
    """A listed field as a label value: absent or null is empty."""
    return "" if value is None else str(value)


def user_levels(family: str, users: Sequence[dict[str, Any]], email: bool) -> list[Level]:
    """`family`'s levels (user_id, user_name, role, email) for listed users. An e-mail address is
    personal data: empty unless `email` (the source's `user_email: true`)."""
    return [
        Level(
            family,
            (
                u["id"],
                text(u.get("name")),
                text(u.get("role")),
                text(u.get("email")) if email else "",
            ),
            1,
        )
        for u in users
    ]


@dataclass(frozen=True, slots=True)
class CursorPager:
    """Reads every item of a cursor-paged list: `limit` items a page, the query parameter
    `after` set to the previous page's `last_id` (or its last item's id) until `has_more` is
    not true. A cursor that never ends is an upstream bug: more than `max_pages` pages fail the
    read."""

    upstream: Upstream
    limit: int
    after: str
    max_pages: int

    async def __call__(
        self, endpoint: str, path: str, params: Sequence[tuple[str, str]] = ()
    ) -> list[dict[str, Any]]:
        """Every item of the list at `path`; each must be an object with an id."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(self.max_pages):
            query = [("limit", str(self.limit)), *params]
            if cursor is not None:
                query.append((self.after, cursor))
            page = await self.upstream.get_json(endpoint, path, query)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise UpstreamError(endpoint, "answer is not a list object with data")
            for item in page["data"]:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    raise UpstreamError(endpoint, "an item is not an object with an id")
                items.append(item)
            if page.get("has_more") is not True:
                return items
            last = page.get("last_id") or (page["data"][-1]["id"] if page["data"] else None)
            if not isinstance(last, str) or last == cursor:
                raise UpstreamError(endpoint, "has_more without a new last_id: cannot page on")
            cursor = last
        raise UpstreamError(endpoint, f"more than {self.max_pages} pages: stopped")


class ResourceSource:
    """The resources of one target: a stream `info/<name>` per reader, read every `every`
    seconds. A vendor subclasses it to say why a refused resource is off (`off`)."""

    def __init__(self, target: str, readers: Mapping[str, Reader], every: int) -> None:
        self._target = target
        self._readers = {PREFIX + name: reader for name, reader in readers.items()}
        self._streams = tuple(Stream(name, 0, 0, 0, every=every) for name in self._readers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self._target!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    def owns(self, stream: Stream) -> bool:
        return stream.name in self._readers

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        name = stream.name.removeprefix(PREFIX)
        try:
            levels = await self._readers[stream.name]()
        except UpstreamError as err:
            why = self.off(name, err.status)
            if why is None:
                raise
            raise Unavailable(f"{name}: {why}") from None
        return StreamRead(stream.name, window.start, window.start, levels=levels)

    def off(self, name: str, status: int | None) -> str | None:
        """Why resource `name` is turned off after an answer with `status` (403, 404), or None
        when the error fails this read only (the last names stay)."""
        if status == 403:
            return (
                f"403 forbidden: {self.forbidden(name)}; turned off until a reload or restart "
                f"(switch it off with resources.{name}: false to silence this)"
            )
        if status == 404:
            return (
                f"404: the organization's {name} API is not offered here; turned off until a "
                "reload or restart"
            )
        return None

    def forbidden(self, name: str) -> str:
        """What a 403 for resource `name` means (which key may read it)."""
        return f"this key may not read {name}"
