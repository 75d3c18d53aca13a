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
(`api_key_id`, `status`), `add_users` (`count`) and those of every twin's listings
(simulator/listing.py: `forbid`, `fail`, `heal`, `page_size`).
`GET /_sim/anthropic/names?org=` is the ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.listing import BadQuery, Organizations, cursor_page
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

    def act(self, action: str, data: Mapping[str, Any]) -> None:
        """Apply one of this twin's own `/_sim/anthropic/names` actions; ValueError for a bad
        one."""
        if action == "rename_workspace":
            self.workspaces[str(data["workspace_id"])].name = str(data["name"])
        elif action == "archive_workspace":
            self.workspaces[str(data["workspace_id"])].archived_at = ARCHIVED
        elif action == "rename_key":
            self.keys[str(data["api_key_id"])].name = str(data["name"])
        elif action == "key_status":
            status = str(data["status"])
            if status not in KEY_STATUSES:
                raise ValueError(f"status: one of {', '.join(KEY_STATUSES)}")
            self.keys[str(data["api_key_id"])].status = status
        elif action == "add_users":
            for _ in range(int(data["count"])):
                n = len(self.users)
                self.users[f"user_01Extra{n:013d}"] = (
                    f"Extra user {n}",
                    f"extra.{n}@example.com",
                    "user",
                )
        else:
            raise ValueError(f"unknown action {action!r}")

    def ground_truth(self) -> dict[str, Any]:
        return {
            "default_workspace_id": DEFAULT_WORKSPACE_ID,
            "workspaces": [w.body() for w in self.workspaces.values()],
            "api_keys": [k.body() for k in self.keys.values()],
            "users": self.user_bodies(),
        }


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false")
    if value not in ("true", "false"):
        raise BadQuery(f"{name}: must be a boolean")
    return value == "true"


def page(request: Request, items: list[dict[str, Any]], cap: int = 0) -> dict[str, Any]:
    """One page of `items` as the Admin API lists: `limit` (1..1000, default 20), `after_id` or
    `before_id` (the object just outside the page), `{data, has_more, first_id, last_id}`."""
    return cursor_page(
        request, items, limit_max=PAGE_MAX, cap=cap, after="after_id", before="before_id"
    )


def authorize(request: Request, keys: Mapping[str, Any]) -> str | Response:
    """The organization the `x-api-key` belongs to, or the API's error answer."""
    key = request.headers.get("x-api-key")
    if key is None or key not in keys:
        return _error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return _error(400, "invalid_request_error", "anthropic-version: header is required")
    return str(keys[key])


def answer(state: Organizations[Org], org: Org, request: Request, resource: str) -> dict[str, Any]:
    """The page of `resource` a request asks for; BadQuery for a query the API refuses."""
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
            raise BadQuery(f"status: one of {', '.join(KEY_STATUSES)}")
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


def routes(frame: Frame, truth: Any = None) -> list[Route]:
    """The names routes and `/_sim/anthropic/names` (GET the ground truth, POST an action).
    `truth` (the usage twin's state) is not needed: the names are twin.py's fixed tables."""
    state = Organizations(Org.default, RESOURCES)

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
            except BadQuery as err:
                return _error(400, "invalid_request_error", str(err))

        return handler

    out = [Route(f"/v1/organizations/{resource}", listing(resource)) for resource in RESOURCES]
    out.append(state.control_route("/_sim/anthropic/names"))
    return out
