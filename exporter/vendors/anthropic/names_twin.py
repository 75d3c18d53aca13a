"""The Anthropic organization's names, as the simulator serves them: workspaces, API keys and
users of the Admin API, in the shapes of the official SDK 2.10.0's types
(`anthropic/types/organization/{workspace,api_key,organization_user}.py`).

`GET /v1/organizations/workspaces` (`include_archived`, `include_default`),
`/v1/organizations/api_keys` (`status`, `workspace_id`, `created_by_user_id`) and
`/v1/organizations/users` (`email`): cursor pages (`limit` 1..1000, default 20; `after_id` or
`before_id`), answered `{data, has_more, first_id, last_id}`. The key goes in `x-api-key`
(`Authorization: Bearer` is not accepted), with `anthropic-version`.

Names and ids are the usage twin's (twin.py `WORKSPACES`, `ARCHIVED_WORKSPACES`, `API_KEYS`,
and the signed-in account as a user), plus what only the names API shows: the default
workspace's own id (usage reports it as null) and a key of the organization (no workspace).
State per organization, changed through `POST /_sim/anthropic/names` (no auth, loopback only):
`{"org", "action": ...}` with the actions `rename_workspace` (`workspace_id`, `name`),
`archive_workspace` (`workspace_id`), `rename_key` (`api_key_id`, `name`), `key_status`
(`api_key_id`, `status`), `add_users` (`count`), `forbid` / `fail` (`resource`, `status`: answer
403 / that status for that resource until `heal`), `heal` (`resource`, or all), `page_size`
(`size`: the most items one page holds, whatever `limit` asks; 0 for no cap).
`GET /_sim/anthropic/names?org=` is the ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exporter.simulator.twin import Frame
from exporter.vendors.anthropic import twin as usage

CREATED = "2025-03-01T09:00:00Z"
ARCHIVED = "2026-06-30T17:00:00Z"
RESOURCES = ("workspaces", "api_keys", "users")
KEY_STATUSES = ("active", "inactive", "archived", "expired")
PAGE_MAX = 1000
# the default workspace: usage reports it as null, the names API lists it with its own id
DEFAULT_WORKSPACE_ID = "wrkspc_01AcmeDefault5Tn8Hc3W"
ORG_KEY_ID = "apikey_01Org2PersonalAna6Lw8Q"  # a key of the organization itself (no workspace)
ORG_KEY_NAME = "ana-personal"
ADMIN_USER = "user_01AnaReyes8Kd2Pq"  # the signed-in account usage reports (account_id)
USERS = {  # id -> (name, e-mail, role)
    ADMIN_USER: ("Ana Reyes", "ana.reyes@example.com", "admin"),
    "user_01BoChen4Wx7Lm2Ts": ("Bo Chen", "bo.chen@example.com", "developer"),
    "user_01CyOrtiz9Qe3Vb6Hn": ("Cy Ortiz", "cy.ortiz@example.com", "billing"),
}


def _error(status: int, kind: str, message: str) -> Response:
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}}, status_code=status
    )


@dataclass
class Workspace:
    id: str
    name: str
    archived_at: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "type": "workspace",
            "id": self.id,
            "name": self.name,
            "created_at": CREATED,
            "archived_at": self.archived_at,
            "display_color": "#6C5BB9",
            "compartment_id": "cmpt_" + self.id.removeprefix("wrkspc_"),
            "data_residency": {
                "workspace_geo": "us",
                "allowed_inference_geos": "unrestricted",
                "default_inference_geo": "global",
            },
            "external_key_id": None,
            "tags": {},
            "user_profile_id": None,
        }


@dataclass
class ApiKey:
    id: str
    name: str
    workspace_id: str | None  # None: a key of the organization (bound to its creator)
    status: str
    creator: str

    def body(self) -> dict[str, Any]:
        scope: dict[str, Any] = (
            {"type": "organization"}
            if self.workspace_id is None
            else {"type": "workspace", "workspace_id": self.workspace_id}
        )
        return {
            "type": "api_key",
            "id": self.id,
            "name": self.name,
            "created_at": CREATED,
            "created_by": {"id": self.creator, "type": "user"},
            "expires_at": None,
            "partial_key_hint": "sk-ant-api03-" + self.id[-4:] + "...AAAA",
            "principal": (
                {"type": "user_actor", "user_id": self.creator}
                if self.workspace_id is None
                else None
            ),
            "scope": scope,
            "status": self.status,
        }


def _user(uid: str, name: str, email: str, role: str) -> dict[str, Any]:
    return {
        "type": "user",
        "id": uid,
        "name": name,
        "email": email,
        "role": role,
        "added_at": CREATED,
    }


@dataclass
class Org:
    """One organization's names; what the control endpoint changes."""

    workspaces: dict[str, Workspace] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    users: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # resource -> status answered

    @classmethod
    def default(cls) -> Org:
        org = cls()
        default = Workspace(DEFAULT_WORKSPACE_ID, usage.DEFAULT_WORKSPACE_NAME)
        org.workspaces[DEFAULT_WORKSPACE_ID] = default
        for wid, name in usage.WORKSPACES.items():
            archived = ARCHIVED if wid in usage.ARCHIVED_WORKSPACES else None
            org.workspaces[wid] = Workspace(wid, name, archived)
        for kid, key in usage.API_KEYS.items():
            wid = key.workspace_id or DEFAULT_WORKSPACE_ID
            org.keys[kid] = ApiKey(kid, key.name, wid, key.status, ADMIN_USER)
        org.keys[ORG_KEY_ID] = ApiKey(ORG_KEY_ID, ORG_KEY_NAME, None, "active", ADMIN_USER)
        org.users = dict(USERS)
        return org

    def user_bodies(self) -> list[dict[str, Any]]:
        return [_user(uid, *fields) for uid, fields in self.users.items()]

    def truth(self) -> dict[str, Any]:
        return {
            "default_workspace_id": DEFAULT_WORKSPACE_ID,
            "workspaces": [w.body() for w in self.workspaces.values()],
            "api_keys": [k.body() for k in self.keys.values()],
            "users": self.user_bodies(),
        }


class NamesState:
    """Every organization's names, made on first use."""

    def __init__(self) -> None:
        self.orgs: dict[str, Org] = {}
        self.page_size = 0

    def org(self, name: str) -> Org:
        if name not in self.orgs:
            self.orgs[name] = Org.default()
        return self.orgs[name]

    def control(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one `/_sim/anthropic/names` action; KeyError/ValueError for a bad one."""
        action = str(data.get("action", ""))
        if action == "page_size":
            self.page_size = int(data["size"])
            return {"page_size": self.page_size}
        org = self.org(str(data.get("org", "")))
        if action == "rename_workspace":
            org.workspaces[str(data["workspace_id"])].name = str(data["name"])
        elif action == "archive_workspace":
            org.workspaces[str(data["workspace_id"])].archived_at = ARCHIVED
        elif action == "rename_key":
            org.keys[str(data["api_key_id"])].name = str(data["name"])
        elif action == "key_status":
            status = str(data["status"])
            if status not in KEY_STATUSES:
                raise ValueError(f"status: one of {', '.join(KEY_STATUSES)}")
            org.keys[str(data["api_key_id"])].status = status
        elif action == "add_users":
            for _ in range(int(data["count"])):
                n = len(org.users)
                org.users[f"user_01Extra{n:013d}"] = (
                    f"Extra user {n}",
                    f"extra.{n}@example.com",
                    "user",
                )
        elif action in ("forbid", "fail"):
            resource = str(data["resource"])
            if resource not in RESOURCES:
                raise ValueError(f"unknown resource {resource!r}; one of {', '.join(RESOURCES)}")
            org.refused[resource] = 403 if action == "forbid" else int(data.get("status", 500))
        elif action == "heal":
            if "resource" in data:
                org.refused.pop(str(data["resource"]), None)
            else:
                org.refused.clear()
        else:
            raise ValueError(f"unknown action {action!r}")
        return org.truth()


class _Bad(Exception):
    pass


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false")
    if value not in ("true", "false"):
        raise _Bad(f"{name}: must be a boolean")
    return value == "true"


def page(request: Request, items: list[dict[str, Any]], cap: int = 0) -> dict[str, Any]:
    """One page of `items` as the Admin API lists: `limit` (1..1000, default 20), `after_id` or
    `before_id` (the object just outside the page), `{data, has_more, first_id, last_id}`."""
    q = request.query_params
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise _Bad("limit: must be an integer") from None
    if not 1 <= limit <= PAGE_MAX:
        raise _Bad(f"limit: must be between 1 and {PAGE_MAX}")
    if cap:
        limit = min(limit, cap)
    after, before = q.get("after_id"), q.get("before_id")
    if after is not None and before is not None:
        raise _Bad("after_id and before_id cannot both be given")
    ids = [item["id"] for item in items]
    for name, cursor in (("after_id", after), ("before_id", before)):
        if cursor is not None and cursor not in ids:
            raise _Bad(f"{name}: no object with this id")
    if before is not None:
        end = ids.index(before)
        start = max(0, end - limit)
        data, more = items[start:end], start > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        data, more = items[start : start + limit], start + limit < len(items)
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def authorize(request: Request, keys: Mapping[str, Any]) -> str | Response:
    """The organization the `x-api-key` belongs to, or the API's error answer."""
    key = request.headers.get("x-api-key")
    if key is None or key not in keys:
        return _error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return _error(400, "invalid_request_error", "anthropic-version: header is required")
    return str(keys[key])


def answer(state: NamesState, org: Org, request: Request, resource: str) -> dict[str, Any]:
    """The page of `resource` a request asks for; _Bad for a query the API refuses."""
    q = request.query_params
    if resource == "workspaces":
        archived, default = _flag(request, "include_archived"), _flag(request, "include_default")
        workspaces = [
            w.body()
            for w in org.workspaces.values()
            if (archived or w.archived_at is None) and (default or w.id != DEFAULT_WORKSPACE_ID)
        ]
        return page(request, workspaces, state.page_size)
    if resource == "api_keys":
        status = q.get("status")
        if status is not None and status not in KEY_STATUSES:
            raise _Bad(f"status: one of {', '.join(KEY_STATUSES)}")
        keys = [
            k.body()
            for k in org.keys.values()
            if (status is None or k.status == status)
            and q.get("workspace_id", k.workspace_id) == k.workspace_id
            and q.get("created_by_user_id", k.creator) == k.creator
        ]
        return page(request, keys, state.page_size)
    users = [u for u in org.user_bodies() if q.get("email", u["email"]) == u["email"]]
    return page(request, users, state.page_size)


def routes(frame: Frame, truth: Any = None) -> list[BaseRoute]:
    """The names routes and `/_sim/anthropic/names` (GET the truth, POST an action). `truth` (the
    usage twin's state) is not needed: the names are twin.py's fixed tables."""
    state = NamesState()

    def listing(resource: str) -> Any:
        async def handler(request: Request) -> Response:
            who = authorize(request, frame.keys)
            if isinstance(who, Response):
                return who
            org = state.org(who)
            refused = org.refused.get(resource)
            if refused == 403:
                return _error(
                    403, "permission_error", f"This key may not read the organization's {resource}"
                )
            if refused is not None:
                return _error(refused, "api_error", "simulated failure")
            try:
                return JSONResponse(answer(state, org, request, resource))
            except _Bad as err:
                return _error(400, "invalid_request_error", str(err))

        return handler

    async def control(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.org(request.query_params.get("org", "")).truth())
        try:
            return JSONResponse(state.control(dict(await request.json())))
        except (KeyError, ValueError, TypeError) as err:
            return JSONResponse({"error": f"{type(err).__name__}: {err}"}, status_code=400)

    out: list[BaseRoute] = [
        Route(f"/v1/organizations/{resource}", listing(resource)) for resource in RESOURCES
    ]
    out.append(Route("/_sim/anthropic/names", control, methods=["GET", "POST"]))
    return out
