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

from typing import Any

from exporter.model import Family, Level
from exporter.upstream import Upstream
from exporter.upstream.listing import CursorPager, ResourceSource, info_family, text, user_levels
from exporter.vendors.anthropic.config import AnthropicConfig
from exporter.vendors.anthropic.families import NULL_OTHER, NULL_WORKSPACE

WORKSPACES = "/v1/organizations/workspaces"
API_KEYS = "/v1/organizations/api_keys"
USERS = "/v1/organizations/users"
PAGE_LIMIT = 1000  # the documented maximum of every list here
MAX_PAGES = 1000  # a cursor that never ends is an upstream bug: stop and fail the read
DEFAULT_WORKSPACE = NULL_WORKSPACE  # the workspace_id usage reports for the default workspace
NO_WORKSPACE = NULL_OTHER  # the workspace_id of a key of the organization (no workspace)

FAMILIES: tuple[Family, ...] = (
    info_family(
        "anthropic_workspace_info",
        "A workspace of the organization (archived ones too), always 1: its current name and "
        "status (active, archived). The default workspace is listed under its id and under "
        "`default`, the value usage reports for it.",
        ("workspace_id", "workspace_name", "status"),
    ),
    info_family(
        "anthropic_api_key_info",
        "An API key of the organization, always 1: its name, workspace (`none` for a key of "
        "the organization itself) and status (active, inactive, archived, expired).",
        ("api_key_id", "api_key_name", "workspace_id", "status"),
    ),
    info_family(
        "anthropic_user_info",
        "A user of the organization, always 1: name and role (user, developer, billing, admin, "
        "...). `email` is empty unless the source sets `user_email: true` (personal data).",
        ("user_id", "user_name", "role", "email"),
    ),
)


class AnthropicResourceSource(ResourceSource):
    """The names of one Anthropic organization (one target), one stream per resource."""

    def __init__(self, config: AnthropicConfig, upstream: Upstream) -> None:
        self._config = config
        self._list = CursorPager(upstream, PAGE_LIMIT, "after_id", MAX_PAGES)
        readers = {"workspaces": self._workspaces, "api_keys": self._api_keys, "users": self._users}
        wanted = {name: read for name, read in readers.items() if getattr(config.resources, name)}
        super().__init__(config.name, wanted, int(config.resource_interval))

    def forbidden(self, name: str) -> str:
        return f"this key may not read the organization's {name} (an Admin key can)"

    async def _workspaces(self) -> list[Level]:
        archived = ("include_archived", "true")
        every = await self._list("workspaces", WORKSPACES, [archived, ("include_default", "true")])
        named = {w["id"] for w in await self._list("workspaces", WORKSPACES, [archived])}
        levels = []
        for w in every:
            status = "active" if w.get("archived_at") is None else "archived"
            name = text(w.get("name"))
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
                    (key["id"], text(key.get("name")), _workspace(key), text(key.get("status"))),
                    1,
                )
            )
        return levels

    async def _users(self) -> list[Level]:
        users = await self._list("users", USERS)
        return user_levels("anthropic_user_info", users, bool(self._config.user_email))


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
