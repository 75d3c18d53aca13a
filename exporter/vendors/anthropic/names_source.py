"""Anthropic organization names: workspaces (archived ones too), API keys and users, as info
gauges read on their own slower schedule.

Each is a *resource* stream (`Stream.every`): read every `resource_interval` (default 15 min),
outside the usage polls, so a slow or failing listing never delays or fails the exact counters.
A failed read keeps the last names; a 403 (or a 404) turns that resource off (`Unavailable`).
Names are joined to usage at query time, never pasted into the counters' labels, so a rename
changes one info series and no counter:

    anthropic_workspace_info{target="acme",workspace_id="wrkspc_01A",workspace_name="Search",
      status="active"} 1
    anthropic_api_key_info{target="acme",api_key_id="apikey_01A",api_key_name="ci",
      workspace_id="wrkspc_01A",status="active"} 1
    anthropic_user_info{target="acme",user_id="user_01A",user_name="Ana",role="admin",email=""} 1

Every list is cursor-paged (`limit`, `after_id` = the previous page's `last_id`, `has_more`).
The default workspace is listed only with `include_default=true`, and usage reports it as
`workspace_id` null (`default`): it is exported twice, under its own id and under `default`, so
a join works whichever the usage carries. E-mail addresses are personal data: read only to be
dropped unless `user_email: true`, never logged, never part of an error message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from exporter.model import Family, Kind, Level, Stream, StreamRead, Unavailable, Window
from exporter.upstream import Upstream, UpstreamError
from exporter.vendors.anthropic.config import AnthropicConfig
from exporter.vendors.anthropic.families import NULL_OTHER, NULL_WORKSPACE

WORKSPACES = "/v1/organizations/workspaces"
API_KEYS = "/v1/organizations/api_keys"
USERS = "/v1/organizations/users"
PAGE_LIMIT = 1000  # the documented maximum of every list here
MAX_PAGES = 1000  # a cursor that never ends is an upstream bug: stop and fail the read
DEFAULT_WORKSPACE = NULL_WORKSPACE  # the workspace_id usage reports for the default workspace
NO_WORKSPACE = NULL_OTHER  # the workspace_id of a key of the organization (no workspace)

_JOIN = " Join it to usage at query time: `* on(target, {key}) group_left({name}) {family}`."
FAMILIES: tuple[Family, ...] = (
    Family(
        "anthropic_workspace_info",
        Kind.GAUGE,
        "A workspace of the organization (archived ones too), always 1: its current name and "
        "status (active, archived). The default workspace is listed under its id and under "
        "`default`, the value usage reports for it."
        + _JOIN.format(
            key="workspace_id", name="workspace_name", family="anthropic_workspace_info"
        ),
        ("workspace_id", "workspace_name", "status"),
    ),
    Family(
        "anthropic_api_key_info",
        Kind.GAUGE,
        "An API key of the organization, always 1: its name, workspace (`none` for a key of "
        "the organization itself) and status (active, inactive, archived, expired)."
        + _JOIN.format(key="api_key_id", name="api_key_name", family="anthropic_api_key_info"),
        ("api_key_id", "api_key_name", "workspace_id", "status"),
    ),
    Family(
        "anthropic_user_info",
        Kind.GAUGE,
        "A user of the organization, always 1: name and role (user, developer, billing, admin, "
        "...). `email` is empty unless the source sets `user_email: true` (personal data)."
        + _JOIN.format(key="user_id", name="user_name", family="anthropic_user_info"),
        ("user_id", "user_name", "role", "email"),
    ),
)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class AnthropicNamesSource:
    """The names of one Anthropic organization (one target), one stream per resource."""

    def __init__(self, config: AnthropicConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream
        readers: dict[str, Callable[[], Awaitable[list[Level]]]] = {
            "workspaces": self._workspaces,
            "api_keys": self._api_keys,
            "users": self._users,
        }
        wanted = config.resources
        self._readers = {
            f"info/{name}": reader for name, reader in readers.items() if getattr(wanted, name)
        }
        every = int(config.resource_interval)
        self._streams = tuple(Stream(name, 0, 0, 0, every=every) for name in self._readers)

    def __repr__(self) -> str:
        return f"AnthropicNamesSource(target={self._config.name!r})"

    async def streams(self) -> Sequence[Stream]:
        return self._streams

    def owns(self, stream: Stream) -> bool:
        return stream.name in self._readers

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        name = stream.name.removeprefix("info/")
        try:
            levels = await self._readers[stream.name]()
        except UpstreamError as err:
            if err.status == 403:
                raise Unavailable(
                    f"{name}: 403 forbidden: this key may not read the organization's {name} "
                    "(an Admin key can); turned off until a reload or restart (switch it off "
                    f"with resources.{name}: false to silence this)"
                ) from None
            if err.status == 404:
                raise Unavailable(
                    f"{name}: 404: the organization's {name} API is not offered here; turned "
                    "off until a reload or restart"
                ) from None
            raise
        return StreamRead(stream.name, window.start, window.start, levels=levels)

    async def _list(
        self, endpoint: str, path: str, params: Sequence[tuple[str, str]] = ()
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paged list: `after_id` is the previous page's `last_id`, until
        `has_more` is false; at most MAX_PAGES pages."""
        items: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            query = [("limit", str(PAGE_LIMIT)), *params]
            if after is not None:
                query.append(("after_id", after))
            page = await self._upstream.get_json(endpoint, path, query)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise UpstreamError(endpoint, "answer is not a list object with data")
            for item in page["data"]:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    raise UpstreamError(endpoint, "an item is not an object with an id")
                items.append(item)
            if page.get("has_more") is not True:
                return items
            last = page.get("last_id") or (page["data"][-1]["id"] if page["data"] else None)
            if not isinstance(last, str) or last == after:
                raise UpstreamError(endpoint, "has_more without a new last_id: cannot page on")
            after = last
        raise UpstreamError(endpoint, f"more than {MAX_PAGES} pages: stopped")

    async def _workspaces(self) -> list[Level]:
        archived = ("include_archived", "true")
        every = await self._list("workspaces", WORKSPACES, [archived, ("include_default", "true")])
        named = {w["id"] for w in await self._list("workspaces", WORKSPACES, [archived])}
        levels = []
        for w in every:
            status = "active" if w.get("archived_at") is None else "archived"
            name = _text(w.get("name"))
            levels.append(Level("anthropic_workspace_info", (w["id"], name, status), 1))
            if w["id"] not in named:  # listed only with include_default: the default one
                levels.append(
                    Level("anthropic_workspace_info", (DEFAULT_WORKSPACE, name, status), 1)
                )
        return levels

    async def _api_keys(self) -> list[Level]:
        levels = []
        for key in await self._list("api_keys", API_KEYS):
            levels.append(
                Level(
                    "anthropic_api_key_info",
                    (key["id"], _text(key.get("name")), _workspace(key), _text(key.get("status"))),
                    1,
                )
            )
        return levels

    async def _users(self) -> list[Level]:
        email = bool(self._config.user_email)
        return [
            Level(
                "anthropic_user_info",
                (
                    u["id"],
                    _text(u.get("name")),
                    _text(u.get("role")),
                    _text(u.get("email")) if email else "",
                ),
                1,
            )
            for u in await self._list("users", USERS)
        ]


def _workspace(key: dict[str, Any]) -> str:
    """A key's workspace: `scope` (`{"type": "workspace", "workspace_id"}` or
    `{"type": "organization"}`) where the API sends it, else the older top-level `workspace_id`,
    null for the default workspace."""
    scope = key.get("scope")
    if isinstance(scope, dict):
        if scope.get("type") == "workspace" and isinstance(scope.get("workspace_id"), str):
            return str(scope["workspace_id"])
        return NO_WORKSPACE
    found = key.get("workspace_id")
    return found if isinstance(found, str) else DEFAULT_WORKSPACE
